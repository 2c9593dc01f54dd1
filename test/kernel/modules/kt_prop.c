// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-taint e2e test module: declares a proprietary licence -> taints P
 * (plus O and E because it is out-of-tree and unsigned). The source itself is
 * GPL-2.0 like the rest of the tests; only the MODULE_LICENSE tag matters.
 */
#include <linux/module.h>
#include <linux/init.h>

static int __init kt_prop_init(void)
{
	pr_info("kt_prop: loaded\n");
	return 0;
}

static void __exit kt_prop_exit(void)
{
	pr_info("kt_prop: unloaded\n");
}

module_init(kt_prop_init);
module_exit(kt_prop_exit);
MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("kernel-taint test module (proprietary licence tag)");
