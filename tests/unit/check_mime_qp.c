/* check_mime_qp.c: unit tests for lib/mime_qp.c: the quoted-printable
 * line encoder (RFC 2045 6.7 rules, soft breaks at 76 characters, round
 * trip through a decoder written here), and the two-pass downgrade of
 * whole messages: a single 8-bit part, a message without MIME headers,
 * multipart with 8-bit, base64 and 7-bit parts, message/rfc822 inside,
 * folded Content-Transfer-Encoding fields, 7-bit messages left alone,
 * headers with 8-bit bytes, nesting past the limit, a missing blank line. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mime_qp.h"

/* Run both passes over text (LF lines); the result (LF lines). */
static char *convert(const char *text, bool *has8, bool *hdr8)
{
	struct mime_qp *m = mime_qp_create();
	struct buf *out = buf_create(1024, 0);
	const char *p, *end = text + strlen(text);
	char *res;

	for (int pass = 0; pass < 2; pass++) {
		for (p = text; p < end;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			if (pass == 0)
				mime_qp_scan(m, p, len);
			else
				mime_qp_convert(m, p, len, out);
			p += len + (nl ? 1 : 0);
		}
		if (pass == 0) {
			if (has8)
				*has8 = mime_qp_has_8bit(m);
			if (hdr8)
				*hdr8 = mime_qp_headers_8bit(m);
		}
	}
	res = buf_steal(out);
	buf_destroy(&out);
	mime_qp_destroy(&m);
	return res;
}

/* Decode quoted-printable text (LF lines). */
static char *qp_decode(const char *in)
{
	size_t n = strlen(in), o = 0;
	char *out = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=' && i + 1 < n && in[i + 1] == '\n') {
			i++;
			continue;
		}
		if (in[i] == '=' && i + 2 < n) {
			char hex[3] = {in[i + 1], in[i + 2], 0};

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
			continue;
		}
		out[o++] = in[i];
	}
	out[o] = '\0';
	return out;
}

static bool all_7bit_short(const char *s, size_t max)
{
	size_t col = 0;

	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
		col = *s == '\n' ? 0 : col + 1;
		if (col > max)
			return false;
	}
	return true;
}

static const struct {
	const char *in;
	const char *out;
} encode_cases[] = {
    {"plain text", "plain text\n"},
    {"", "\n"},
    {"a=b", "a=3Db\n"},
    {"trailing space ", "trailing space=20\n"},
    {"trailing tab\t", "trailing tab=09\n"},
    {"in side\tok", "in side\tok\n"},
    {"K\xc3\xa4se", "K=C3=A4se\n"},
    {"cr\rlf", "cr=0Dlf\n"},
    {"nul\0x", "nul\n"}, /* strlen cuts: see test_encode_binary */
    {"~!\"#", "~!\"#\n"},
};

START_TEST(test_encode_cases)
{
	struct buf *out = buf_create(64, 0);

	mime_qp_encode_line(encode_cases[_i].in, strlen(encode_cases[_i].in),
	                    out);
	ck_assert_str_eq(buf_str(out), encode_cases[_i].out);
	buf_destroy(&out);
}
END_TEST

START_TEST(test_encode_binary_and_long)
{
	struct buf *out = buf_create(64, 0);
	char line[1000];
	char *dec;

	mime_qp_encode_line("a\0b", 3, out);
	ck_assert_str_eq(buf_str(out), "a=00b\n");
	/* Every byte value, in a long line: short lines, round trip. */
	for (int i = 0; i < 256; i++)
		line[i] = (char)i;
	for (int i = 256; i < 1000; i++)
		line[i] = (char)('a' + i % 26);
	line[0] = 'x'; /* no NUL: the decoder here uses C strings */
	buf_reset(out);
	mime_qp_encode_line(line, sizeof(line), out);
	ck_assert(all_7bit_short(buf_str(out), 76));
	dec = qp_decode(buf_str(out));
	ck_assert_int_eq(strlen(dec), sizeof(line) + 1);
	ck_assert(memcmp(dec, line, sizeof(line)) == 0);
	free(dec);
	/* Exactly 76 characters fit on one line; 77 do not. */
	memset(line, 'q', 77);
	buf_reset(out);
	mime_qp_encode_line(line, 76, out);
	ck_assert_int_eq(buf_len(out), 77);
	buf_reset(out);
	mime_qp_encode_line(line, 77, out);
	ck_assert(strchr(buf_str(out), '=') != NULL);
	ck_assert(all_7bit_short(buf_str(out), 76));
	/* A trailing space pushed onto the last line is still encoded. */
	memset(line, 'q', 80);
	line[79] = ' ';
	buf_reset(out);
	mime_qp_encode_line(line, 80, out);
	ck_assert(strstr(buf_str(out), "=20\n") != NULL);
	buf_destroy(&out);
}
END_TEST

START_TEST(test_single_part)
{
	bool has8, hdr8;
	char *out = convert("From: a@b\nSubject: x\nMIME-Version: 1.0\n"
	                    "Content-Type: text/plain; charset=utf-8\n"
	                    "Content-Transfer-Encoding: 8bit\n\n"
	                    "Gr\xc3\xbc\xc3\x9f"
	                    "e\n= end\n",
	                    &has8, &hdr8);

	ck_assert(has8);
	ck_assert(!hdr8);
	ck_assert_str_eq(out, "From: a@b\nSubject: x\nMIME-Version: 1.0\n"
	                      "Content-Type: text/plain; charset=utf-8\n"
	                      "Content-Transfer-Encoding: quoted-printable\n\n"
	                      "Gr=C3=BC=C3=9Fe\n=3D end\n");
	free(out);
}
END_TEST

START_TEST(test_no_mime_headers)
{
	char *out = convert("Subject: x\n\nK\xc3\xa4se\n", NULL, NULL);

	ck_assert_str_eq(out, "Subject: x\nMIME-Version: 1.0\n"
	                      "Content-Transfer-Encoding: quoted-printable\n\n"
	                      "K=C3=A4se\n");
	free(out);
}
END_TEST

START_TEST(test_seven_bit_unchanged)
{
	const char *in = "Subject: x\nContent-Transfer-Encoding: 7bit\n\n"
	                 "a=b plain \nlong "
	                 "line\n";
	bool has8;
	char *out = convert(in, &has8, NULL);
	char *expect = malloc(strlen(in) + 1);

	strcpy(expect, in);
	ck_assert(!has8);
	ck_assert_str_eq(out, expect);
	free(out);
	free(expect);
}
END_TEST

START_TEST(test_multipart)
{
	const char *in =
	    "Subject: mp\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed;\n boundary=\"outer b\"\n"
	    "Content-Transfer-Encoding: 8bit\n\npreamble\n"
	    "--outer b\nContent-Type: text/plain\n\nascii only\n"
	    "--outer b\nContent-Type: text/plain; charset=latin1\n"
	    "Content-Transfer-Encoding: 8BIT\n\n\xe9t\xe9\n"
	    "--outer b\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\nAAEC\n"
	    "--outer b\nContent-Type: message/rfc822\n\n"
	    "Subject: inner\nContent-Type: multipart/alternative; "
	    "boundary=in\n\n--in\n"
	    "Content-Transfer-Encoding:\n 8bit\n\n\xc3\xa4\n--in--\n"
	    "--outer b--  \nepilogue\n";
	const char *want =
	    "Subject: mp\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed;\n boundary=\"outer b\"\n"
	    "Content-Transfer-Encoding: 7bit\n\npreamble\n"
	    "--outer b\nContent-Type: text/plain\n\nascii only\n"
	    "--outer b\nContent-Type: text/plain; charset=latin1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=E9t=E9\n"
	    "--outer b\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\nAAEC\n"
	    "--outer b\nContent-Type: message/rfc822\n\n"
	    "Subject: inner\nContent-Type: multipart/alternative; "
	    "boundary=in\n\n--in\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=C3=A4\n--in--\n"
	    "--outer b--  \nepilogue\n";
	char *out = convert(in, NULL, NULL);

	ck_assert_str_eq(out, want);
	ck_assert(all_7bit_short(out, 998));
	free(out);
}
END_TEST

START_TEST(test_header_8bit_and_odd_shapes)
{
	bool has8, hdr8;
	char *out;

	/* 8-bit in a header: reported, passed on. */
	out = convert("Subject: Gr\xc3\xbc\xc3\x9f"
	              "e\n\nascii\n",
	              &has8, &hdr8);
	ck_assert(has8 && hdr8);
	ck_assert_str_eq(out, "Subject: Gr\xc3\xbc\xc3\x9f"
	                      "e\n\nascii\n");
	free(out);
	/* No blank line after the headers: one is added with the field. */
	out = convert("Subject: x\n\xc3\xa4 body\n", &has8, &hdr8);
	ck_assert_str_eq(out, "Subject: x\nMIME-Version: 1.0\n"
	                      "Content-Transfer-Encoding: quoted-printable\n\n"
	                      "=C3=A4 body\n");
	free(out);
	/* A multipart without a boundary is an opaque leaf: unchanged. */
	out =
	    convert("Content-Type: multipart/mixed\n\n\xc3\xa4\n", NULL, NULL);
	ck_assert_str_eq(out, "Content-Type: multipart/mixed\n\n\xc3\xa4\n");
	free(out);
	/* Unknown encodings are left alone. */
	out = convert("Content-Transfer-Encoding: x-uuencode\n\n\xc3\xa4\n",
	              NULL, NULL);
	ck_assert_str_eq(out,
	                 "Content-Transfer-Encoding: x-uuencode\n\n\xc3\xa4\n");
	free(out);
}
END_TEST

START_TEST(test_deep_nesting)
{
	struct buf *in = buf_create(4096, 0);
	char *out;

	/* Nesting beyond MIME_QP_MAX_DEPTH: the innermost stays as is,
	 * nothing crashes, the outer structure is kept. */
	for (int i = 0; i < MIME_QP_MAX_DEPTH + 5; i++)
		buf_printf(in,
		           "Content-Type: multipart/mixed; boundary=b%d\n\n"
		           "--b%d\n",
		           i, i);
	buf_append_str(in, "\n\xc3\xa4\n");
	for (int i = MIME_QP_MAX_DEPTH + 4; i >= 0; i--)
		buf_printf(in, "--b%d--\n", i);
	out = convert(buf_str(in), NULL, NULL);
	ck_assert(strstr(out, "--b0--\n") != NULL);
	free(out);
	buf_destroy(&in);
}
END_TEST

START_TEST(test_many_entities)
{
	struct buf *in = buf_create(4096, 0);
	char *out;

	buf_append_str(in, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (int i = 0; i < MIME_QP_MAX_ENTITIES + 10; i++)
		buf_append_str(in, "--x\n\n\xc3\xa4\n");
	buf_append_str(in, "--x--\n");
	out = convert(buf_str(in), NULL, NULL);
	/* The tracked ones are encoded; the rest pass as they were. */
	ck_assert(strstr(out, "--x\nContent-Transfer-Encoding: "
	                      "quoted-printable\n\n=C3=A4\n") != NULL);
	free(out);
	buf_destroy(&in);
}
END_TEST

Suite *mime_qp_suite(void)
{
	Suite *s = suite_create("mime_qp");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_encode_cases, 0,
	                    sizeof(encode_cases) / sizeof(encode_cases[0]));
	tcase_add_test(tc, test_encode_binary_and_long);
	tcase_add_test(tc, test_single_part);
	tcase_add_test(tc, test_no_mime_headers);
	tcase_add_test(tc, test_seven_bit_unchanged);
	tcase_add_test(tc, test_multipart);
	tcase_add_test(tc, test_header_8bit_and_odd_shapes);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_many_entities);
	suite_add_tcase(s, tc);
	return s;
}
