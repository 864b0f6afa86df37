/*
 * agent-tool — the program an open-loop agent (agentsched-workload agent) runs as its tool call.
 *
 *   agent-tool BURN_US        prints CLOCK_MONOTONIC at entry (ns, one line), then burns BURN_US
 *                             microseconds of its own CPU time and exits 0
 *   agent-tool --spin-ms MS   the same line, then spins for MS milliseconds of wall time: a
 *                             runaway tool
 *
 * The first line lets the agent measure fork-to-first-instruction: its clock before it started
 * the tool against the tool's clock at main(). Built static by scripts/lib/bench-sched, so no
 * dynamic loader runs between the exec and main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long entry = now_ns(CLOCK_MONOTONIC);
	int spin = argc == 3 && strcmp(argv[1], "--spin-ms") == 0;
	char *end;
	long long amount;

	if (argc != 2 && !spin) {
		fprintf(stderr, "usage: agent-tool BURN_US | agent-tool --spin-ms MS\n");
		return 2;
	}
	amount = strtoll(argv[argc - 1], &end, 10);
	if (*end || amount < 0) {
		fprintf(stderr, "agent-tool: '%s' is not a whole number\n", argv[argc - 1]);
		return 2;
	}
	printf("%lld\n", entry);
	fflush(stdout);

	clockid_t clock = spin ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
	long long stop = now_ns(clock) + amount * (spin ? 1000000LL : 1000LL);
	volatile unsigned long long x = 1;
	while (now_ns(clock) < stop)
		for (int i = 0; i < 200; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return 0;
}
