/* SPDX-License-Identifier: MIT */
/* suites.h - every unit-test file registers its CUnit suite here. */
#ifndef IPNB_TEST_SUITES_H
#define IPNB_TEST_SUITES_H

#include <CUnit/CUnit.h>

/* Each returns a CUnit error code (CUE_SUCCESS on success). */
CU_ErrorCode test_addr_register(void);
CU_ErrorCode test_frame_register(void);
CU_ErrorCode test_iptable_register(void);
CU_ErrorCode test_fakexen_register(void);
CU_ErrorCode test_txreq_register(void);
CU_ErrorCode test_gso_register(void);
CU_ErrorCode test_pmtu_register(void);
CU_ErrorCode test_vnet_register(void);
CU_ErrorCode test_xbstate_register(void);
CU_ErrorCode test_dp_register(void);
CU_ErrorCode test_dp_mq_register(void);
CU_ErrorCode test_nbr_register(void);
CU_ErrorCode test_xenbus_register(void);
CU_ErrorCode test_ctl_register(void);
CU_ErrorCode test_host_register(void);
CU_ErrorCode test_uplink_register(void);
CU_ErrorCode test_sandbox_register(void);
CU_ErrorCode test_cli_register(void);
CU_ErrorCode test_log_register(void);
CU_ErrorCode test_notify_register(void);

#endif
