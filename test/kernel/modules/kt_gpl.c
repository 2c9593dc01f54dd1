// SPDX-License-Identifier: GPL-2.0
/* kernel-taint e2e test module: GPL, out-of-tree, unsigned -> taints O and E. */
#include <linux/module.h>
#include <linux/init.h>

static int __init kt_gpl_init(void)
{
	pr_info("kt_gpl: loaded\n");
	return 0;
}

static void __exit kt_gpl_exit(void)
{
	pr_info("kt_gpl: unloaded\n");
}

module_init(kt_gpl_init);
module_exit(kt_gpl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernel-taint test module (GPL, out-of-tree)");
