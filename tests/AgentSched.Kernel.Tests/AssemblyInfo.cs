// Every test here attaches or observes the one sched_ext scheduler the kernel can have: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
