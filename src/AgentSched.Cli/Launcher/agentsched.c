/* SPDX-License-Identifier: MIT */
/*
 * agentsched: the CLI's front door.
 *
 * `agentsched run -- CMD` wraps every tool call an agent runtime starts, so its start-up is the
 * product. The .NET CLI is compiled ahead of time, yet its runtime alone takes a few
 * milliseconds to start; this program takes a fraction of one. It handles run's common case
 * itself: mark its own process through agentschedd's socket, and when the daemon answers ok,
 * exec CMD in the same process, which is then classified before its first instruction.
 *
 * Everything else goes to the .NET CLI (agentsched-cli, beside this file's real path), with the
 * same arguments: every other command, --help, any option or value written in a form this file
 * does not parse, and any run that does not go as planned (no daemon, a refusal, an answer that
 * is not ok, CMD that cannot be executed). The .NET CLI owns the option syntax, the validation,
 * the messages and the exit codes, and repeats the request itself, so whatever it prints is the
 * same as when it is called directly. A run that timed out here is handed over with the hidden
 * option --mark-timed-out, so a hung daemon costs one timeout, not two.
 *
 * The request line, the default socket and the timeout are those of AgentSched.Protocol and
 * RunCommand; LauncherTests compares them byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET_PATH "/run/agentsched/agentsched.sock"
#define SOCKET_ENV "AGENTSCHED_SOCKET"
#define PROTOCOL_VERSION 1
#define MARK_TIMEOUT_MS 3000
#define CLI_NAME "agentsched-cli"
#define TIMED_OUT_OPTION "--mark-timed-out"
#define STRINGIFY(x) #x
#define TEXT(x) STRINGIFY(x)

/* What `run` was asked for; -1: not given. */
struct run_args {
	const char *socket_path;
	const char *class_name;
	long window_ms;
	long home_cpu;
	long budget_us;
	int command; /* index of CMD in argv */
	int run_index; /* index of "run" in argv */
};

enum mark_result { MARKED, NOT_MARKED, TIMED_OUT };

/*
 * Hands the whole command line to the .NET CLI, with --mark-timed-out after argv[run_index] when
 * `timed_out`; returns only when that cannot be started, with run's or the CLI's failure code.
 */
static int delegate(int argc, char **argv, int run_index, bool timed_out)
{
	char self[PATH_MAX], cli[PATH_MAX + sizeof(CLI_NAME)];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "agentsched: cannot find its own path in /proc/self/exe: %s\n", strerror(errno));
		return 125;
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(cli, sizeof(cli), "%s/%s", self, CLI_NAME);

	char **args = calloc((size_t)argc + 2, sizeof(char *));
	if (!args) {
		fprintf(stderr, "agentsched: out of memory\n");
		return 125;
	}
	int k = 0;
	args[k++] = argv[0];
	for (int i = 1; i < argc; i++) {
		args[k++] = argv[i];
		if (timed_out && i == run_index)
			args[k++] = TIMED_OUT_OPTION;
	}
	args[k] = NULL;
	execv(cli, args);
	fprintf(stderr, "agentsched: cannot execute %s: %s\n", cli, strerror(errno));
	free(args);
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "run"))
			return 125;
	return 1;
}

/* A positive integer of at most 9 digits; -1 for anything else. */
static long parse_count(const char *s, const char **end)
{
	long v = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 10) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	*end = s;
	return digits == 0 || digits > 9 ? -1 : v;
}

/*
 * A duration in whole units (250ms, 2s, 500us, 1m, 1h) in multiples of `unit_us`, rounded up as
 * the .NET client rounds; -1 for anything else (fractions and other forms go to the .NET CLI).
 */
static long parse_duration(const char *s, long unit_us)
{
	const char *u;
	long n = parse_count(s, &u);
	long long scale_us;
	if (n <= 0)
		return -1;
	if (!strcmp(u, "us"))
		scale_us = 1;
	else if (!strcmp(u, "ms"))
		scale_us = 1000;
	else if (!strcmp(u, "s"))
		scale_us = 1000000;
	else if (!strcmp(u, "m") || !strcmp(u, "min"))
		scale_us = 60000000;
	else if (!strcmp(u, "h"))
		scale_us = 3600000000LL;
	else
		return -1;
	long long us = n * scale_us;
	if (us > 3600000000LL * 24 * 365)
		return -1;
	return (long)((us + unit_us - 1) / unit_us);
}

/* The value of option `name` (or its `alias`) at argv[*i], as "--name V" or "--name=V"; NULL if argv[*i] is another word. */
static const char *option_value(int argc, char **argv, int *i, const char *name, const char *alias, bool *bad)
{
	const char *a = argv[*i];
	size_t len = strlen(name);
	if (!strcmp(a, name) || (alias && !strcmp(a, alias))) {
		if (*i + 1 >= argc || !strcmp(argv[*i + 1], "--")) {
			*bad = true;
			return NULL;
		}
		return argv[++*i];
	}
	if (!strncmp(a, name, len) && a[len] == '=')
		return a + len + 1;
	return NULL;
}

/* Parses `[--socket P] run [options] -- CMD ...`; false when anything is not in a form handled here. */
static bool parse_run(int argc, char **argv, struct run_args *r)
{
	bool in_run = false, seen_class = false, seen_socket = false;
	*r = (struct run_args){ .window_ms = -1, .home_cpu = -1, .budget_us = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool bad = false;
		if (!strcmp(a, "--")) {
			if (!in_run || i + 1 >= argc || !argv[i + 1][0])
				return false;
			r->command = i + 1;
			return true;
		}
		if ((v = option_value(argc, argv, &i, "--socket", NULL, &bad))) {
			if (seen_socket || !*v)
				return false;
			seen_socket = true;
			r->socket_path = v;
		} else if (bad) {
			return false;
		} else if (!in_run) {
			if (strcmp(a, "run"))
				return false;
			in_run = true;
			r->run_index = i;
		} else if ((v = option_value(argc, argv, &i, "--class", "-c", &bad))) {
			if (seen_class || (strcmp(v, "burst") && strcmp(v, "normal") && strcmp(v, "batch")))
				return false;
			seen_class = true;
			r->class_name = v;
		} else if ((v = option_value(argc, argv, &i, "--window", "-w", &bad))) {
			if (r->window_ms != -1 || (r->window_ms = parse_duration(v, 1000)) < 0)
				return false;
		} else if ((v = option_value(argc, argv, &i, "--budget", NULL, &bad))) {
			if (r->budget_us != -1 || (r->budget_us = parse_duration(v, 1)) < 0)
				return false;
		} else if ((v = option_value(argc, argv, &i, "--home-cpu", NULL, &bad))) {
			const char *end;
			if (r->home_cpu != -1 || (r->home_cpu = parse_count(v, &end)) < 0 || *end)
				return false;
		} else if (bad || (strcmp(a, "--strict") && strcmp(a, "--quiet") && strcmp(a, "-q"))) {
			/* --strict and --quiet change only what happens when the mark fails, which the .NET CLI handles. */
			return false;
		}
	}
	return false;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sets both socket timeouts to what is left until `deadline`; false when nothing is. */
static bool set_timeouts(int fd, long long deadline)
{
	long long left = deadline - now_ms();
	if (left <= 0)
		return false;
	struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
	return !setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) &&
	       !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static enum mark_result mark_self(const struct run_args *r)
{
	long long deadline = now_ms() + MARK_TIMEOUT_MS;
	const char *path = r->socket_path;
	if (!path) {
		path = getenv(SOCKET_ENV);
		if (!path || !*path)
			path = DEFAULT_SOCKET_PATH;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return NOT_MARKED;
	strcpy(addr.sun_path, path);

	char line[512];
	int len = snprintf(line, sizeof(line), "{\"v\":" TEXT(PROTOCOL_VERSION) ",\"op\":\"mark\",\"pid\":%d,\"class\":\"%s\"",
			   (int)getpid(), r->class_name ? r->class_name : "burst");
	if (r->window_ms >= 0)
		len += snprintf(line + len, sizeof(line) - len, ",\"window_ms\":%ld", r->window_ms);
	if (r->home_cpu >= 0)
		len += snprintf(line + len, sizeof(line) - len, ",\"home_cpu\":%ld", r->home_cpu);
	if (r->budget_us >= 0)
		len += snprintf(line + len, sizeof(line) - len, ",\"budget_us\":%ld", r->budget_us);
	len += snprintf(line + len, sizeof(line) - len, "}\n");

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NOT_MARKED;
	enum mark_result result = NOT_MARKED;
	/* connect(2) on a Unix socket blocks while the daemon's backlog is full, for at most SO_SNDTIMEO. */
	if (!set_timeouts(fd, deadline))
		goto out;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (errno == EAGAIN || errno == EINTR)
			result = TIMED_OUT;
		goto out;
	}
	for (int sent = 0; sent < len;) {
		ssize_t n = send(fd, line + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				result = TIMED_OUT;
			goto out;
		}
		sent += n;
	}
	char answer[1024];
	size_t got = 0;
	while (!memchr(answer, '\n', got)) {
		if (got == sizeof(answer) || !set_timeouts(fd, deadline)) {
			result = got == sizeof(answer) ? NOT_MARKED : TIMED_OUT;
			goto out;
		}
		ssize_t n = recv(fd, answer + got, sizeof(answer) - got, 0);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				result = TIMED_OUT;
			goto out;
		}
		got += n;
	}
	/* The daemon writes "v" then "ok" first; a request without an id gets no "id". */
	static const char ok[] = "{\"v\":" TEXT(PROTOCOL_VERSION) ",\"ok\":true";
	if (got >= sizeof(ok) - 1 && !memcmp(answer, ok, sizeof(ok) - 1))
		result = MARKED;
out:
	close(fd);
	return result;
}

int main(int argc, char **argv)
{
	struct run_args r;
	if (!parse_run(argc, argv, &r))
		return delegate(argc, argv, 0, false);
	enum mark_result marked = mark_self(&r);
	if (marked == MARKED) {
		execvp(argv[r.command], argv + r.command);
		/* Not executable: the .NET CLI marks again (the same mark) and reports it with its exit code. */
	}
	return delegate(argc, argv, r.run_index, marked == TIMED_OUT);
}
