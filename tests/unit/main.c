/* SPDX-License-Identifier: MIT */
/*
 * main.c - the CUnit runner. Runs every registered suite and exits non-zero
 * if any assertion failed, so `make unit` (and CI) fail with it.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "suites.h"

int main(void)
{
	CU_ErrorCode (*const suites[])(void) = {
	    test_addr_register,	   test_frame_register,	  test_iptable_register,
	    test_fakexen_register, test_txreq_register,	  test_gso_register,
	    test_pmtu_register,	   test_vnet_register,	  test_xbstate_register,
	    test_dp_register,	   test_dp_mq_register,	  test_nbr_register,
	    test_xenbus_register,  test_ctl_register,	  test_host_register,
	    test_uplink_register,  test_sandbox_register, test_cli_register,
	    test_log_register,	   test_notify_register};
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (suites[i]() != CUE_SUCCESS) {
			fprintf(stderr, "suite registration failed: %s\n", CU_get_error_msg());
			CU_cleanup_registry();
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
