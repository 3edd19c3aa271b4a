/*
 * unit_main.c: runs every Check suite (one per tests/unit/check_<module>.c,
 * listed in the generated suites.h) in one runner, so `make check` ends
 * with one Check summary line. CK_RUN_SUITE=name runs one suite.
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *runner = srunner_create(suite_create("posthorn"));
	int failed;

#define SUITE(name) srunner_add_suite(runner, name##_suite());
#include "suites.h"
#undef SUITE
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
