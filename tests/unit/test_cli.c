/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c - the `ipnetback` CLI (xenstore-tools/ipnetback.c, its main()
 * renamed ipnb_cli_main) against the fake xenstore, each run in a child
 * process as the real command would be: `ip add` retries a transaction
 * that xenstored reports as conflicting (EAGAIN), and gives up, writing
 * nothing, after ten; a domain may be named as xl names it; `ip list`
 * tells registered addresses from refused ones; --help and
 * --version answer on stdout with status 0, a bad option with 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <pcap/pcap.h>

#include "fakexen.h"
#include "ipnb/cap.h"
#include "ipnb/version.h"
#include "netfront.h"
#include "suites.h"

int ipnb_cli_main(int argc, char **argv);

#define BE "/local/domain/0/backend/vif/5/0"

static void show_ip(void)
{
	char *v = fake_xs_read(BE "/ip");

	printf("\nKEY ip=[%s]\n", v ? v : "(none)");
	fflush(stdout);
	free(v);
}

/* Runs the CLI with argv in a child after `conflicts` failed commits;
 * returns its exit status, its output in out. */
static int cli(unsigned int conflicts, char **argv, char *out, size_t n)
{
	int fds[2], st, argc = 0;
	ssize_t got;
	pid_t pid;

	while (argv[argc])
		argc++;
	CU_ASSERT_FATAL(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		fake_xs_fail_transaction_ends(conflicts);
		/* The CLI exits from anywhere: the key is shown on the way out,
		 * since the child's store is its own. */
		atexit(show_ip);
		exit(ipnb_cli_main(argc, argv));
	}
	close(fds[1]);
	for (size_t off = 0;; off += (size_t)got) {
		got = read(fds[0], out + off, n - 1 - off);
		if (got <= 0) {
			out[off] = '\0';
			break;
		}
	}
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *key, const char *val)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", BE, key);
	CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(0, p, val), 0);
}

static char *ip_key(void)
{
	return fake_xs_read(BE "/ip");
}

static void test_ip_add_retries(void)
{
	char *argv[] = {"ipnetback", "ip", "add", "5/0", "10.99.0.9", NULL};
	char out[512], *ip;

	fake_reset();
	put("frontend", "/local/domain/5/device/vif/0");
	put("ip", "10.99.0.5");

	/* three conflicts: retried, then written */
	CU_ASSERT_EQUAL(cli(3, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "vif 5/0: ip=\"10.99.0.5 10.99.0.9\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "KEY ip=[10.99.0.5 10.99.0.9]"));

	/* ten: it gives up, and nothing is written */
	CU_ASSERT_EQUAL(cli(10, argv, out, sizeof(out)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "kept changing"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "KEY ip=[10.99.0.5]"));
	/* nine: the tenth try goes through */
	CU_ASSERT_EQUAL(cli(9, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "KEY ip=[10.99.0.5 10.99.0.9]"));
	ip = ip_key(); /* the parent's store: untouched by the children */
	CU_ASSERT_STRING_EQUAL(ip, "10.99.0.5");
	free(ip);
	fake_reset();
}

static void test_domain_names(void)
{
	char *by_name[] = {"ipnetback", "ip", "add", "web1", "10.99.0.9", NULL};
	char *by_name_dev[] = {"ipnetback", "ip", "del", "web1/0", "10.99.0.5", NULL};
	char *unknown[] = {"ipnetback", "ip", "add", "web2", "10.99.0.9", NULL};
	char *empty[] = {"ipnetback", "ip", "add", "/0", "10.99.0.9", NULL};
	char *junk[] = {"ipnetback", "ip", "add", "5x/0", "10.99.0.9", NULL};
	char out[512];

	fake_reset();
	put("frontend", "/local/domain/5/device/vif/0");
	put("ip", "10.99.0.5");
	CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(0, "/local/domain/4/name", "db1"), 0);
	CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(0, "/local/domain/5/name", "web1"), 0);
	CU_ASSERT_EQUAL(cli(0, by_name, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "KEY ip=[10.99.0.5 10.99.0.9]"));
	CU_ASSERT_EQUAL(cli(0, by_name_dev, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "KEY ip=[]"));
	CU_ASSERT_EQUAL(cli(0, unknown, out, sizeof(out)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no domain named \"web2\""));
	CU_ASSERT_EQUAL(cli(0, empty, out, sizeof(out)), 2);
	CU_ASSERT_EQUAL(cli(0, junk, out, sizeof(out)), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage:"));
	fake_reset();
}

/* A stand-in for ipnetbackd on a Unix socket at path: answers one request
 * with `answer`, from a child process; returns the child's pid. */
static pid_t fake_daemon_bytes(const char *path, const void *answer, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	CU_ASSERT_FATAL(fd >= 0 && strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char c;
		int cfd = accept(fd, NULL, NULL);

		while (cfd >= 0 && read(cfd, &c, 1) == 1 && c != '\n')
			;
		if (cfd >= 0 && write(cfd, answer, len) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	return pid;
}

static pid_t fake_daemon(const char *path, const char *answer)
{
	return fake_daemon_bytes(path, answer, strlen(answer));
}

/*
 * ip list: each vif's ip key, sorted into what ipnetbackd registered and
 * what it refused (another vif holds it, or it does not parse), with the
 * ip-error the daemon wrote; as text and as JSON; and without a daemon,
 * registration unknown.
 */
static void test_ip_list(void)
{
	char sock[64], out[2048], *argv[8];
	pid_t d;
	int st;
	static const char daemon_says[] =
	    "{\"vifs\": [{\"domid\": 5, \"devid\": 0, \"addresses\": [\"10.99.0.5\", "
	    "\"fd00::5\"]}, {\"domid\": 6, \"devid\": 0, \"addresses\": [\"10.99.0.6\"]}]}\n";

	fake_reset();
	put("frontend", "/local/domain/5/device/vif/0");
	put("ip", "10.99.0.5 fd00:0::5");
	CU_ASSERT_EQUAL_FATAL(
	    fake_xs_write_as(0, "/local/domain/0/backend/vif/6/0/ip", "10.99.0.6 10.99.0.5/32"), 0);
	CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(0, "/local/domain/0/backend/vif/6/0/ip-error",
					       "refused, already registered: 10.99.0.5 (vif 5/0)"),
			      0);
	snprintf(sock, sizeof(sock), "/tmp/ipnb-cli-%d.sock", (int)getpid());

	d = fake_daemon(sock, daemon_says);
	argv[0] = "ipnetback", argv[1] = "-s", argv[2] = sock, argv[3] = "ip", argv[4] = "list";
	argv[5] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "5/0\t10.99.0.5 fd00::5\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "6/0\t10.99.0.6\trefused: 10.99.0.5\trefused, already "
					   "registered: 10.99.0.5 (vif 5/0)\n"));
	CU_ASSERT(waitpid(d, &st, 0) == d);

	d = fake_daemon(sock, daemon_says);
	argv[4] = "list", argv[5] = "6", argv[6] = "--json", argv[7] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NULL(strstr(out, "\"domid\": 5"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"daemon\": true"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"ip\": \"10.99.0.6 10.99.0.5/32\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"registered\": [\n        \"10.99.0.6\"\n      ]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"refused\": [\n        \"10.99.0.5\"\n      ]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"ip_error\": \"refused, already registered"));
	CU_ASSERT(waitpid(d, &st, 0) == d);

	/* A vif the daemon does not list. */
	d = fake_daemon(sock, "{\"vifs\": []}\n");
	argv[5] = "6/0", argv[6] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "6/0\t10.99.0.6 10.99.0.5/32\t(not a vif ipnetbackd serves)"));
	CU_ASSERT(waitpid(d, &st, 0) == d);

	/* No daemon: the keys as written, registration unknown. */
	unlink(sock);
	argv[5] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "5/0\t10.99.0.5 fd00:0::5\t(ipnetbackd does not answer"));
	fake_reset();
}

/* Appends one capture record (cap.h) and its frame to b at *off. */
static void put_rec(uint8_t *b, size_t *off, uint8_t dir, uint32_t dropped, uint64_t ts,
		    const uint8_t *f, size_t len)
{
	const struct cap_rec r = {.ts_usec = ts,
				  .caplen = (uint32_t)len,
				  .len = (uint32_t)len,
				  .dropped = dropped,
				  .dir = dir};

	memcpy(b + *off, &r, sizeof(r));
	memcpy(b + *off + sizeof(r), f, len);
	*off += sizeof(r) + len;
}

/*
 * capture: what the daemon streams becomes a pcap file that libpcap reads
 * back, with the frames the filter passes, their bytes and times; -c stops
 * after that many; the summary counts what was seen and what the daemon
 * dropped; a refused request and a bad filter fail with status 1.
 */
static void test_capture(void)
{
	static const uint8_t mac_a[6] = {0, 0x16, 0x3e, 0, 0, 5},
			     mac_b[6] = {0, 0x16, 0x3e, 0, 0, 6};
	static const uint8_t ip_a[4] = {10, 99, 0, 5}, ip_b[4] = {10, 99, 0, 6};
	uint8_t icmp[64] = {0}, udp[64] = {0}, tcp[80] = {0}, stream[512];
	char sock[64], file[64], out[2048], err[PCAP_ERRBUF_SIZE];
	char *argv[12];
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t off, li, lu, lt;
	pcap_t *p;
	pid_t d;
	int st;

	li = nf_put_eth_ip(icmp, false, mac_b, mac_a, ip_a, ip_b, IPPROTO_ICMP, 20) + 20;
	lu = nf_put_eth_ip(udp, false, mac_a, mac_b, ip_b, ip_a, IPPROTO_UDP, 20) + 20;
	lt = nf_put_eth_ip(tcp, false, mac_b, mac_a, ip_a, ip_b, IPPROTO_TCP, 20) + 20;
	off = strlen("capture 5/0\n");
	memcpy(stream, "capture 5/0\n", off);
	put_rec(stream, &off, CAP_DIR_IN, 0, 1700000000123456u, icmp, li);
	put_rec(stream, &off, CAP_DIR_OUT, 3, 1700000001000001u, udp, lu);
	put_rec(stream, &off, CAP_DIR_IN, 0, 1700000002000000u, tcp, lt);
	snprintf(sock, sizeof(sock), "/tmp/ipnb-cli-%d.sock", (int)getpid());
	snprintf(file, sizeof(file), "/tmp/ipnb-cli-%d.pcap", (int)getpid());

	d = fake_daemon_bytes(sock, stream, off);
	argv[0] = "ipnetback", argv[1] = "-s", argv[2] = sock, argv[3] = "capture";
	argv[4] = "5/0", argv[5] = "-w", argv[6] = file, argv[7] = "icmp", argv[8] = "or";
	argv[9] = "udp", argv[10] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT(waitpid(d, &st, 0) == d);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "2 packets written, 3 seen, 3 dropped by ipnetbackd"));
	p = pcap_open_offline(file, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pcap_datalink(p), DLT_EN10MB);
	CU_ASSERT_EQUAL_FATAL(pcap_next_ex(p, &h, &data), 1);
	CU_ASSERT_EQUAL(h->ts.tv_sec, 1700000000);
	CU_ASSERT_EQUAL(h->ts.tv_usec, 123456);
	CU_ASSERT(h->caplen == li && h->len == li && memcmp(data, icmp, li) == 0);
	CU_ASSERT_EQUAL_FATAL(pcap_next_ex(p, &h, &data), 1);
	CU_ASSERT(h->caplen == lu && memcmp(data, udp, lu) == 0);
	CU_ASSERT_EQUAL(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK); /* no TCP */
	pcap_close(p);

	/* -c 1, no filter: the first frame only. */
	d = fake_daemon_bytes(sock, stream, off);
	argv[7] = "-c", argv[8] = "1", argv[9] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 0);
	CU_ASSERT(waitpid(d, &st, 0) == d);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "count reached: 1 packets written"));
	p = pcap_open_offline(file, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pcap_next_ex(p, &h, &data), 1);
	CU_ASSERT_EQUAL(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);

	/* Refused by the daemon. */
	d = fake_daemon(sock, "error: no vif 5/0\n");
	argv[7] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 1);
	CU_ASSERT(waitpid(d, &st, 0) == d);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "error: no vif 5/0"));

	/* A filter libpcap cannot compile: refused before asking. */
	argv[7] = "no", argv[8] = "such", argv[9] = "thing", argv[10] = NULL;
	CU_ASSERT_EQUAL(cli(0, argv, out, sizeof(out)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "filter \"no such thing\""));
	unlink(sock);
	unlink(file);
}

static void test_help_version(void)
{
	char *help[] = {"ipnetback", "--help", NULL};
	char *version[] = {"ipnetback", "--version", NULL};
	char *bad[] = {"ipnetback", "--bogus", NULL};
	char out[2048];

	CU_ASSERT_EQUAL(cli(0, help, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: ipnetback"));
	CU_ASSERT_EQUAL(cli(0, version, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "ipnetback " IPNB_VERSION "\n"));
	CU_ASSERT_EQUAL(cli(0, bad, out, sizeof(out)), 2);
}

CU_ErrorCode test_cli_register(void)
{
	CU_pSuite s = CU_add_suite("cli", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "ip add: transaction retries", test_ip_add_retries);
	CU_add_test(s, "domains by name", test_domain_names);
	CU_add_test(s, "ip list: registered and refused", test_ip_list);
	CU_add_test(s, "--help and --version", test_help_version);
	CU_add_test(s, "capture", test_capture);
	return CU_get_error();
}
