// SPDX-License-Identifier: GPL-2.0
/* kernel-taint e2e test module: GPL, calls WARN_ON(1) in init -> taints W (the kernel sets it itself). */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/bug.h>

static int __init kt_warn_init(void)
{
	pr_info("kt_warn: about to WARN\n");
	WARN_ON(1);
	return 0;
}

static void __exit kt_warn_exit(void)
{
	pr_info("kt_warn: unloaded\n");
}

module_init(kt_warn_init);
module_exit(kt_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernel-taint test module (WARN_ON in init)");
