/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - netback/log.c: each line carries its syslog priority ("<N>")
 * when stderr is the stream systemd named in JOURNAL_STREAM, and nothing
 * when it is not (a terminal, a file, a pipe: the test dom0's case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipnb/log.h"

#include "suites.h"

/* Everything logged by fn() with stderr on a temporary file, with
 * JOURNAL_STREAM naming that file (journal) or another one. */
static void logged(bool journal, void (*fn)(void), char *out, size_t size)
{
	FILE *f = tmpfile();
	struct stat sb;
	char js[64];
	int saved = dup(2);
	size_t n;

	CU_ASSERT_FATAL(f != NULL && saved >= 0);
	CU_ASSERT_FATAL(fstat(fileno(f), &sb) == 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
		 (unsigned long long)sb.st_ino + (journal ? 0 : 1));
	setenv("JOURNAL_STREAM", js, 1);
	fflush(stderr);
	CU_ASSERT_FATAL(dup2(fileno(f), 2) == 2);
	log_init("ipnetbackd", true);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init("ipnetbackd", false);
	rewind(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void each_level(void)
{
	log_warnx("a warning");
	log_info("some news");
	log_debug("a detail");
}

static void test_journal(void)
{
	char out[512];

	logged(true, each_level, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "<4>ipnetbackd: a warning\n"
				    "<6>ipnetbackd: some news\n"
				    "<7>ipnetbackd: debug: a detail\n");
}

static void test_not_journal(void)
{
	char out[512];

	logged(false, each_level, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "ipnetbackd: a warning\n"
				    "ipnetbackd: some news\n"
				    "ipnetbackd: debug: a detail\n");
}

CU_ErrorCode test_log_register(void)
{
	CU_pSuite s = CU_add_suite("log", NULL, NULL);

	if (!s || !CU_add_test(s, "priorities for the journal", test_journal) ||
	    !CU_add_test(s, "no priorities elsewhere", test_not_journal))
		return CU_get_error();
	return CUE_SUCCESS;
}
