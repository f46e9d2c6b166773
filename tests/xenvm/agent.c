/* SPDX-License-Identifier: MIT */
/*
 * agent.c - both ends of the real-Xen harness's command channel to its
 * guests, through xenstore (tests/xenvm/lib.sh, vm_exec; domu-init.sh).
 *
 *   ipnb-agent serve
 *	in a domU: runs each command dom0 writes, for the domain's life;
 *   ipnb-agent exec NAME DOMID SEQ SECONDS COMMAND
 *	in dom0: runs COMMAND (sh) in domain DOMID as command number SEQ,
 *	with a limit of SECONDS, prints its output with each line marked
 *	"  [NAME] " and exits with its status.
 *
 * The protocol, in the domU's data/ directory: dom0 writes ipnb-cmd =
 * "SEQ SHELL-COMMAND"; the agent answers ipnb-out = "SEQ", a newline and the
 * last 2 KiB of the output, ipnb-rc = "SEQ STATUS", and last ipnb-done =
 * "SEQ", so that an answer is whole once ipnb-done carries its number. The
 * number is in all three: an answer whose ipnb-rc or ipnb-out carries
 * another number is stale (a lost write), and `exec` reports it as a
 * failure (125), never as this command's result. No answer within the limit
 * (plus 5 s) is 124.
 *
 * One process per command at each end, because under TCG every fork and
 * exec in a PV domain costs about 0.1 s: the shell versions of both ends
 * took about ten of them per command, and the poll loop of an idle guest
 * two a second.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#define AG_OUT_MAX  2048
#define AG_SEQ_MAX  24
#define AG_OUT_FILE "/tmp/ipnb-out"
/* The last number answered, kept across a restart of `serve` (its loop in
 * domu-init.sh starts it again if xenstored drops it): a command is never
 * run twice. */
#define AG_LAST_FILE "/tmp/ipnb-last"

/* A number, and nothing else: the only thing either end parses. */
static bool ag_is_num(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

static bool ag_write(struct xs_handle *xs, const char *path, const char *val)
{
	return xs_write(xs, XBT_NULL, path, val, strlen(val));
}

/* Runs CMD under /bin/sh with its output in AG_OUT_FILE; its status, as a
 * shell reports one (128 + the signal for a killed command). */
static int ag_run(const char *cmd)
{
	int fd = open(AG_OUT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 125;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(125);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd);
	if (pid < 0)
		return 125;
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return 125;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The last AG_OUT_MAX bytes of the output, trailing newlines dropped (as
 * the shell's $(...) drops them), after "SEQ\n". */
static void ag_output(char *buf, size_t size, const char *seq)
{
	int n = snprintf(buf, size, "%s\n", seq);
	size_t len = n > 0 ? (size_t)n : 0;
	int fd = open(AG_OUT_FILE, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd >= 0 && fstat(fd, &sb) == 0) {
		off_t from = sb.st_size > AG_OUT_MAX ? sb.st_size - AG_OUT_MAX : 0;
		ssize_t r = pread(fd, buf + len, size - len - 1, from);
		if (r > 0)
			len += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	while (len > (size_t)n && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
}

static void ag_answer(struct xs_handle *xs, const char *seq, int rc)
{
	char out[AG_SEQ_MAX + AG_OUT_MAX + 2], st[AG_SEQ_MAX + 16];
	ag_output(out, sizeof(out), seq);
	snprintf(st, sizeof(st), "%s %d", seq, rc);
	if (!ag_write(xs, "data/ipnb-out", out) || !ag_write(xs, "data/ipnb-rc", st)) {
		/* The failure to answer is the answer. */
		snprintf(out, sizeof(out),
			 "%s\nipnb-agent: could not write the output of command %s", seq, seq);
		snprintf(st, sizeof(st), "%s 125", seq);
		ag_write(xs, "data/ipnb-out", out);
		ag_write(xs, "data/ipnb-rc", st);
	}
	if (!ag_write(xs, "data/ipnb-done", seq))
		fprintf(stderr, "ipnb-agent: could not answer command %s\n", seq);
}

static void ag_last(char *last, bool save)
{
	FILE *f = fopen(AG_LAST_FILE, save ? "we" : "re");
	if (!f)
		return;
	if (save)
		fputs(last, f);
	else if (!fgets(last, AG_SEQ_MAX, f))
		last[0] = '\0';
	fclose(f);
}

/* One watch for the agent's life. xenstored fires it once when it is set,
 * and once per write after that, so a command written at any moment is
 * read after at least one event; events that find the last command already
 * answered are ignored. Relative paths are the domain's own home. */
static int ag_serve(void)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs || !xs_watch(xs, "data/ipnb-cmd", "cmd")) {
		perror("ipnb-agent: xenstore");
		return 1;
	}
	char last[AG_SEQ_MAX] = "";
	ag_last(last, false);
	for (;;) {
		unsigned int n, len;
		char **ev = xs_read_watch(xs, &n);
		if (!ev) {
			perror("ipnb-agent: watch");
			return 1;
		}
		free(ev);
		char *c = xs_read(xs, XBT_NULL, "data/ipnb-cmd", &len);
		char *sp = c ? strchr(c, ' ') : NULL;
		if (sp && (size_t)(sp - c) < AG_SEQ_MAX) {
			*sp = '\0';
			if (ag_is_num(c) && strcmp(c, last) != 0) {
				snprintf(last, sizeof(last), "%s", c);
				ag_last(last, true);
				ag_answer(xs, last, ag_run(sp + 1));
			}
		}
		free(c);
	}
}

static double ag_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "timeout SECS sh -c 'CMD'", CMD's single quotes written as '\''. */
static char *ag_wrap(const char *seq, int secs, const char *cmd)
{
	size_t q = 0;
	for (const char *p = cmd; *p; p++)
		q += *p == '\'' ? 4 : 1;
	size_t size = strlen(seq) + q + 64;
	char *v = malloc(size);
	if (!v)
		return NULL;
	char *w = v + snprintf(v, size, "%s timeout %d sh -c '", seq, secs);
	for (const char *p = cmd; *p; p++) {
		if (*p == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *p;
		}
	}
	memcpy(w, "'", 2);
	return v;
}

static void ag_print(const char *name, const char *out)
{
	const char *p = strchr(out, '\n');
	while (p) {
		const char *s = p + 1, *e = strchr(s, '\n');
		int l = e ? (int)(e - s) : (int)strlen(s);
		printf("  [%s] %.*s\n", name, l, s);
		p = e;
	}
}

/* rc is "SEQ STATUS" and out starts with "SEQ\n": this command's answer. */
static bool ag_ours(const char *seq, const char *rc, const char *out)
{
	size_t l = strlen(seq);
	return rc && out && strncmp(rc, seq, l) == 0 && rc[l] == ' ' && ag_is_num(rc + l + 1) &&
	       strncmp(out, seq, l) == 0 && (out[l] == '\n' || out[l] == '\0');
}

static int ag_exec(const char *name, const char *domid, const char *seq, int secs, const char *cmd)
{
	char done_p[96], cmd_p[96], rc_p[96], out_p[96];
	if (!ag_is_num(domid) || !ag_is_num(seq) || strlen(seq) >= AG_SEQ_MAX || secs <= 0) {
		fprintf(stderr, "ipnb-agent: bad arguments\n");
		return 2;
	}
	snprintf(done_p, sizeof(done_p), "/local/domain/%s/data/ipnb-done", domid);
	snprintf(cmd_p, sizeof(cmd_p), "/local/domain/%s/data/ipnb-cmd", domid);
	snprintf(rc_p, sizeof(rc_p), "/local/domain/%s/data/ipnb-rc", domid);
	snprintf(out_p, sizeof(out_p), "/local/domain/%s/data/ipnb-out", domid);
	struct xs_handle *xs = xs_open(0);
	char *v = ag_wrap(seq, secs, cmd);
	/* The watch is in place before the command is written, so the answer
	 * cannot land unseen between a read and the watch. */
	bool sent =
	    xs && v && xs_fileno(xs) >= 0 && xs_watch(xs, done_p, "done") && ag_write(xs, cmd_p, v);
	free(v);
	if (!sent) {
		printf("vm_exec: %s: cannot write the command\n", name);
		return 125;
	}
	double deadline = ag_now() + secs + 5;
	for (;;) {
		char *d = xs_read(xs, XBT_NULL, done_p, NULL);
		bool answered = d && strcmp(d, seq) == 0;
		free(d);
		if (answered)
			break;
		double left = deadline - ag_now();
		if (left <= 0) {
			printf("vm_exec: %s: no answer to '%s'\n", name, cmd);
			return 124;
		}
		struct pollfd p = {.fd = xs_fileno(xs), .events = POLLIN};
		if (poll(&p, 1, left > 1 ? 1000 : (int)(left * 1000) + 1) > 0) {
			char **ev;
			while ((ev = xs_check_watch(xs)) != NULL)
				free(ev);
		}
	}
	char *rc = xs_read(xs, XBT_NULL, rc_p, NULL);
	char *out = xs_read(xs, XBT_NULL, out_p, NULL);
	int st = 125;
	if (ag_ours(seq, rc, out)) {
		ag_print(name, out);
		st = atoi(rc + strlen(seq) + 1);
	} else {
		printf("vm_exec: %s: stale or missing answer to command %s ('%s'): rc key '%s'\n",
		       name, seq, cmd, rc ? rc : "");
	}
	free(rc);
	free(out);
	xs_close(xs);
	return st;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return ag_serve();
	if (argc == 7 && strcmp(argv[1], "exec") == 0)
		return ag_exec(argv[2], argv[3], argv[4], atoi(argv[5]), argv[6]);
	fprintf(stderr, "usage: ipnb-agent serve\n"
			"       ipnb-agent exec NAME DOMID SEQ SECONDS COMMAND\n");
	return 2;
}
