/* SPDX-License-Identifier: MIT */
/*
 * ipnetback.c - the operator's CLI: registers guest addresses by editing the
 * backend `ip` keys in xenstore (the same keys libxl writes from
 * vif=['ip=...'], which ipnetbackd watches), and shows vif status from the
 * daemon's control socket.
 *
 *   ipnetback ip add DOMAIN[/DEVID] ADDR...
 *   ipnetback ip del DOMAIN[/DEVID] ADDR...
 *   ipnetback ip list [DOMAIN[/DEVID]] [--json]
 *   ipnetback vif list [--json]
 *   ipnetback vif show DOMAIN[/DEVID] [--json]
 *   ipnetback uplink [--json]
 *   ipnetback host [--json]
 *   ipnetback daemon [--json]
 *   ipnetback metrics
 *   ipnetback capture VIF [-w FILE] [-s SNAPLEN] [-c COUNT] [-Q DIR] [FILTER]
 *   ipnetback shutdown [--disconnect]
 *
 * DOMAIN is a domid or the domain's name (/local/domain/ID/name).
 *
 * Edits happen in one xenstore transaction: either the whole command takes
 * effect or nothing is written.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ipnb/addr.h"
#include "ipnb/cap.h"
#include "ipnb/ctl.h"
#include "ipnb/version.h"

/* The unit tests link this file against the fake xenstore and call its
 * main() under another name, in a child process (tests/unit/test_cli.c). */
#ifdef IPNB_CLI_MAIN
int IPNB_CLI_MAIN(int argc, char **argv);
#define main IPNB_CLI_MAIN
#endif

static const char *sock_path = CTL_DEFAULT_PATH;
/* How long the daemon has to answer a request (it answers at once when it
 * runs; a stopped one never does). */
#define CLI_ANSWER_SECONDS 10

static const char cli_usage[] =
    "usage: ipnetback [-s SOCKET] ip add|del DOMAIN[/DEVID] ADDR...\n"
    "       ipnetback [-s SOCKET] ip list [DOMAIN[/DEVID]] [--json]\n"
    "       ipnetback [-s SOCKET] vif list [--json]\n"
    "       ipnetback [-s SOCKET] vif show DOMAIN[/DEVID] [--json]\n"
    "       ipnetback [-s SOCKET] uplink [--json]\n"
    "       ipnetback [-s SOCKET] host [--json]\n"
    "       ipnetback [-s SOCKET] daemon [--json]\n"
    "       ipnetback [-s SOCKET] metrics\n"
    "       ipnetback [-s SOCKET] capture VIF [-w FILE|-] [-s SNAPLEN] [-c COUNT]\n"
    "                 [-Q in|out|inout] [FILTER...]\n"
    "       ipnetback [-s SOCKET] shutdown [--disconnect]\n"
    "       ipnetback --help | --version\n"
    "Registers guest addresses and asks ipnetbackd how it is doing (ipnetback(8)).\n"
    "DOMAIN is a domid or a domain's name; DEVID defaults to 0. VIF is\n"
    "DOMAIN[/DEVID] or a vif's name (vifname=, vifD.N).\n"
    "  -s, --socket=PATH  ipnetbackd's control socket (default " CTL_DEFAULT_PATH ")\n";

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fputs(cli_usage, stderr);
	exit(2);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ipnetback: ");
	va_start(ap, fmt);
	/* A clang-tidy 14 false positive in multi-file runs (netback/log.c). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static struct xs_handle *xs_or_die(void);

/* The id of the domain xl calls NAME (/local/domain/ID/name), or exit 1. */
static unsigned long domid_by_name(const char *name)
{
	struct xs_handle *xs = xs_or_die();
	unsigned int n;
	char **ids = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	unsigned long found = ULONG_MAX;

	for (unsigned int i = 0; ids && i < n && found == ULONG_MAX; i++) {
		char *p, *v;

		if (asprintf(&p, "/local/domain/%s/name", ids[i]) < 0)
			die("out of memory");
		v = xs_read(xs, XBT_NULL, p, NULL);
		if (v && strcmp(v, name) == 0 && ids[i][0] >= '0' && ids[i][0] <= '9')
			found = strtoul(ids[i], NULL, 10);
		free(v);
		free(p);
	}
	free(ids);
	xs_close(xs);
	if (found == ULONG_MAX)
		die("no domain named \"%s\"", name);
	return found;
}

/* DOMAIN or DOMAIN/DEVID: DOMAIN a decimal domid or a domain's name as xl
 * gives it (`xl list`), DEVID decimal. */
static bool parse_vif(const char *s, unsigned int *domid, unsigned int *devid)
{
	const char *slash = strrchr(s, '/');
	char name[256], *end;
	unsigned long d, v = 0;

	errno = 0;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return false;
		v = strtoul(slash + 1, &end, 10);
		if (errno || *end != '\0' || v > UINT32_MAX)
			return false;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(slash ? slash - s : (ptrdiff_t)strlen(s)), s);
	if (name[0] < '0' || name[0] > '9') {
		if (!name[0])
			return false;
		d = domid_by_name(name);
	} else {
		d = strtoul(name, &end, 10);
		if (errno || *end != '\0')
			return false;
	}
	if (d >= 0x7ff0) /* DOMID_FIRST_RESERVED */
		return false;
	*domid = (unsigned int)d;
	*devid = (unsigned int)v;
	return true;
}

static struct xs_handle *xs_or_die(void)
{
	struct xs_handle *xs = xs_open(0);

	if (!xs)
		die("cannot connect to xenstore: %s", strerror(errno));
	return xs;
}

static char *backend_root(struct xs_handle *xs)
{
	char *home = xs_get_domain_path(xs, 0), *root;

	if (!home || asprintf(&root, "%s/backend/vif", home) < 0)
		die("out of memory");
	free(home);
	return root;
}

/* Parses the ip key of one vif; dies if it is not a valid list. */
static size_t read_addrs(struct xs_handle *xs, xs_transaction_t t, const char *dir,
			 struct ipnb_addr *a, bool must)
{
	char *p, *v;
	unsigned int len;
	size_t n = 0, bad = 0;
	int err;

	if (asprintf(&p, "%s/ip", dir) < 0)
		die("out of memory");
	v = xs_read(xs, t, p, &len);
	free(p);
	if (!v)
		return 0;
	err = ipnb_addr_parse_list(v, a, IPNB_VIF_MAX_ADDRS, &n, &bad);
	if (err != IPNB_ADDR_OK) {
		if (must)
			die("%s/ip holds \"%s\", which is not a valid list (%s at \"%s\"); fix it "
			    "first",
			    dir, v, ipnb_addr_strerror(err), v + bad);
		n = 0;
	}
	free(v);
	return n;
}

static bool contains(const struct ipnb_addr *a, size_t n, const struct ipnb_addr *x)
{
	for (size_t i = 0; i < n; i++)
		if (ipnb_addr_equal(&a[i], x))
			return true;
	return false;
}

/* Which other vif lists x in its ip key, if any ("D/N" in who). */
static bool owner_elsewhere(struct xs_handle *xs, xs_transaction_t t, const char *root,
			    unsigned int domid, unsigned int devid, const struct ipnb_addr *x,
			    char *who, size_t wholen)
{
	unsigned int nd, nv;
	char **doms = xs_directory(xs, t, root, &nd);
	bool found = false;

	for (unsigned int i = 0; doms && i < nd && !found; i++) {
		char *dp;
		char **devs;

		if (asprintf(&dp, "%s/%s", root, doms[i]) < 0)
			die("out of memory");
		devs = xs_directory(xs, t, dp, &nv);
		for (unsigned int j = 0; devs && j < nv && !found; j++) {
			struct ipnb_addr a[IPNB_VIF_MAX_ADDRS];
			char *vp;
			size_t n;

			if ((unsigned int)atoi(doms[i]) == domid &&
			    (unsigned int)atoi(devs[j]) == devid)
				continue;
			if (asprintf(&vp, "%s/%s", dp, devs[j]) < 0)
				die("out of memory");
			n = read_addrs(xs, t, vp, a, false);
			if (contains(a, n, x)) {
				snprintf(who, wholen, "%s/%s", doms[i], devs[j]);
				found = true;
			}
			free(vp);
		}
		free(devs);
		free(dp);
	}
	free(doms);
	return found;
}

static int cmd_ip_edit(bool add, int argc, char **argv)
{
	unsigned int domid, devid;
	struct ipnb_addr req[IPNB_VIF_MAX_ADDRS];
	size_t nreq = 0;
	struct xs_handle *xs;
	char *root, *dir;

	if (argc < 2 || !parse_vif(argv[0], &domid, &devid))
		usage();
	for (int i = 1; i < argc; i++) {
		int err;

		if ((size_t)i > IPNB_VIF_MAX_ADDRS)
			die("at most %d addresses per vif", IPNB_VIF_MAX_ADDRS);
		err = ipnb_addr_parse(argv[i], strlen(argv[i]), &req[nreq]);
		if (err != IPNB_ADDR_OK)
			die("%s: %s", argv[i], ipnb_addr_strerror(err));
		if (contains(req, nreq, &req[nreq]))
			die("%s: given twice", argv[i]);
		nreq++;
	}
	xs = xs_or_die();
	root = backend_root(xs);
	if (asprintf(&dir, "%s/%u/%u", root, domid, devid) < 0)
		die("out of memory");

	for (int attempt = 0; attempt < 10; attempt++) {
		xs_transaction_t t = xs_transaction_start(xs);
		struct ipnb_addr cur[IPNB_VIF_MAX_ADDRS], out[IPNB_VIF_MAX_ADDRS];
		size_t ncur, nout = 0;
		char value[IPNB_VIF_MAX_ADDRS * IPNB_ADDR_STRLEN + 1] = "", *p, *fe;
		unsigned int len;

		if (t == XBT_NULL)
			die("xenstore transaction: %s", strerror(errno));
		if (asprintf(&p, "%s/frontend", dir) < 0)
			die("out of memory");
		fe = xs_read(xs, t, p, &len);
		free(p);
		if (!fe) {
			xs_transaction_end(xs, t, true);
			die("no vif %u/%u (no %s)", domid, devid, dir);
		}
		free(fe);
		ncur = read_addrs(xs, t, dir, cur, true);
		for (size_t i = 0; i < nreq; i++) {
			char s[IPNB_ADDR_STRLEN], who[64];

			ipnb_addr_format(&req[i], s);
			if (add && contains(cur, ncur, &req[i])) {
				xs_transaction_end(xs, t, true);
				die("%s is already registered to vif %u/%u", s, domid, devid);
			}
			if (!add && !contains(cur, ncur, &req[i])) {
				xs_transaction_end(xs, t, true);
				die("%s is not registered to vif %u/%u", s, domid, devid);
			}
			if (add &&
			    owner_elsewhere(xs, t, root, domid, devid, &req[i], who, sizeof(who))) {
				xs_transaction_end(xs, t, true);
				die("%s is already registered to vif %s", s, who);
			}
		}
		for (size_t i = 0; i < ncur; i++)
			if (add || !contains(req, nreq, &cur[i]))
				out[nout++] = cur[i];
		for (size_t i = 0; add && i < nreq; i++) {
			if (nout == IPNB_VIF_MAX_ADDRS) {
				xs_transaction_end(xs, t, true);
				die("vif %u/%u would have more than %d addresses", domid, devid,
				    IPNB_VIF_MAX_ADDRS);
			}
			out[nout++] = req[i];
		}
		for (size_t i = 0, off = 0; i < nout; i++) {
			char s[IPNB_ADDR_STRLEN];

			ipnb_addr_format(&out[i], s);
			off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%s",
						i ? " " : "", s);
		}
		if (asprintf(&p, "%s/ip", dir) < 0)
			die("out of memory");
		if (!xs_write(xs, t, p, value, (unsigned int)strlen(value))) {
			int e = errno;

			xs_transaction_end(xs, t, true);
			die("writing %s: %s", p, strerror(e));
		}
		free(p);
		if (xs_transaction_end(xs, t, false)) {
			printf("vif %u/%u: ip=\"%s\"\n", domid, devid, value);
			free(dir);
			free(root);
			xs_close(xs);
			return 0;
		}
		if (errno != EAGAIN)
			die("committing: %s", strerror(errno));
	}
	die("xenstore kept changing under us; nothing written");
}

static int ctl_connect(void);
static char *ctl_fetch(const char *req);

/* The addresses ipnetbackd has registered to vif D/V, from its `vifs json`
 * answer (NULL if the vif is not in it). */
static yajl_val daemon_addrs(yajl_val vifs, unsigned long d, unsigned long v)
{
	/* yajl_tree_get() takes its path as char pointers it does not own. */
	const char *k_vifs[] = {"vifs", NULL}, *k_domid[] = {"domid", NULL},
		   *k_devid[] = {"devid", NULL}, *k_addrs[] = {"addresses", NULL};
	yajl_val list = yajl_tree_get(vifs, k_vifs, yajl_t_array);

	for (size_t i = 0; list && i < list->u.array.len; i++) {
		yajl_val o = list->u.array.values[i];
		yajl_val od = yajl_tree_get(o, k_domid, yajl_t_number);
		yajl_val ov = yajl_tree_get(o, k_devid, yajl_t_number);

		if (od && ov && YAJL_IS_INTEGER(od) && YAJL_IS_INTEGER(ov) &&
		    (unsigned long)YAJL_GET_INTEGER(od) == d &&
		    (unsigned long)YAJL_GET_INTEGER(ov) == v)
			return yajl_tree_get(o, k_addrs, yajl_t_array);
	}
	return NULL;
}

/* Is A (canonical text) among the strings of the array REG? */
static bool listed(yajl_val reg, const char *a)
{
	for (size_t i = 0; reg && i < reg->u.array.len; i++) {
		const char *s = YAJL_GET_STRING(reg->u.array.values[i]);

		if (s && strcmp(s, a) == 0)
			return true;
	}
	return false;
}

static void js_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* The tokens of one ip key, sorted for `ip list`. The daemon refuses a key
 * of more than IPNB_VIF_MAX_ADDRS addresses, so twice that is plenty to
 * show; any beyond are left out. */
#define LIST_MAX_TOKENS ((size_t)2 * IPNB_VIF_MAX_ADDRS)

struct addr_list {
	size_t n;
	char a[LIST_MAX_TOKENS][IPNB_ADDR_STRLEN];
};

static void list_add(struct addr_list *l, const char *s, size_t len)
{
	if (l->n < LIST_MAX_TOKENS)
		snprintf(l->a[l->n++], IPNB_ADDR_STRLEN, "%.*s", (int)len, s);
}

static void list_print(const struct addr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		printf("%s%s", i ? " " : "", l->a[i]);
}

static void list_gen(yajl_gen g, const char *name, const struct addr_list *l)
{
	js_str(g, name);
	yajl_gen_array_open(g);
	for (size_t i = 0; i < l->n; i++)
		js_str(g, l->a[i]);
	yajl_gen_array_close(g);
}

/*
 * One vif of `ip list`: its ip key as written, then each address in it
 * sorted into registered (ipnetbackd holds it for this vif) or refused (the
 * daemon holds it for another vif, or refused the key), with ip-error.
 * Without an answering daemon (daemon NULL), or for a vif it does not list,
 * registration is unknown.
 */
static void list_vif(yajl_gen g, yajl_val daemon, const char *dom, const char *dev, const char *ip,
		     const char *ip_err)
{
	unsigned long d = strtoul(dom, NULL, 10), v = strtoul(dev, NULL, 10);
	yajl_val reg = daemon ? daemon_addrs(daemon, d, v) : NULL;
	struct addr_list ok = {0}, bad = {0};
	const char *p = ip ? ip : "";

	/* Token by token as the daemon reads the key (ipnb_addr_parse_list),
	 * each compared in its canonical form; a token that does not parse is
	 * refused as written. */
	for (p += strspn(p, " \t\n"); *p; p += strspn(p, " \t\n")) {
		size_t len = strcspn(p, " \t\n");
		struct ipnb_addr a;
		char canon[IPNB_ADDR_STRLEN];

		if (ipnb_addr_parse(p, len, &a) != IPNB_ADDR_OK) {
			list_add(&bad, p, len);
		} else {
			ipnb_addr_format(&a, canon);
			list_add(listed(reg, canon) ? &ok : &bad, canon, strlen(canon));
		}
		p += len;
	}
	if (!g) {
		printf("%s/%s\t", dom, dev);
		if (!daemon) {
			printf("%s\t(ipnetbackd does not answer: registration unknown)\n",
			       ip ? ip : "");
		} else if (!reg) {
			printf("%s\t(not a vif ipnetbackd serves)\n", ip ? ip : "");
		} else {
			list_print(&ok);
			if (bad.n) {
				printf("\trefused: ");
				list_print(&bad);
			}
			printf("%s%s\n", ip_err ? "\t" : "", ip_err ? ip_err : "");
		}
		return;
	}
	yajl_gen_map_open(g);
	js_str(g, "domid");
	yajl_gen_integer(g, (long long)d);
	js_str(g, "devid");
	yajl_gen_integer(g, (long long)v);
	js_str(g, "ip");
	js_str(g, ip ? ip : "");
	if (daemon) {
		js_str(g, "served");
		yajl_gen_bool(g, reg != NULL);
	}
	if (reg) {
		list_gen(g, "registered", &ok);
		list_gen(g, "refused", &bad);
	}
	if (ip_err) {
		js_str(g, "ip_error");
		js_str(g, ip_err);
	}
	yajl_gen_map_close(g);
}

static int cmd_ip_list(int argc, char **argv)
{
	unsigned int want_d = 0, want_v = 0, nd, nv;
	bool one = false, json = false;
	struct xs_handle *xs;
	char *root, **doms, *answer, err[128];
	yajl_val daemon = NULL;
	yajl_gen g = NULL;

	if (argc >= 1 && strcmp(argv[argc - 1], "--json") == 0) {
		json = true;
		argc--;
	}
	if (argc > 1 || (argc == 1 && !(one = parse_vif(argv[0], &want_d, &want_v))))
		usage();
	/* What the daemon has registered, if it answers. */
	answer = ctl_fetch("vifs json");
	if (answer)
		daemon = yajl_tree_parse(answer, err, sizeof(err));
	free(answer);
	if (json) {
		g = yajl_gen_alloc(NULL);
		if (!g)
			die("out of memory");
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
		yajl_gen_map_open(g);
		js_str(g, "daemon");
		yajl_gen_bool(g, daemon != NULL);
		js_str(g, "vifs");
		yajl_gen_array_open(g);
	}
	xs = xs_or_die();
	root = backend_root(xs);
	doms = xs_directory(xs, XBT_NULL, root, &nd);
	for (unsigned int i = 0; doms && i < nd; i++) {
		char *dp, **devs;

		if (asprintf(&dp, "%s/%s", root, doms[i]) < 0)
			die("out of memory");
		devs = xs_directory(xs, XBT_NULL, dp, &nv);
		for (unsigned int j = 0; devs && j < nv; j++) {
			char *p, *e, *v, *ve;

			if (one && ((unsigned int)atoi(doms[i]) != want_d ||
				    (unsigned int)atoi(devs[j]) != want_v))
				continue;
			if (asprintf(&p, "%s/%s/ip", dp, devs[j]) < 0 ||
			    asprintf(&e, "%s/%s/ip-error", dp, devs[j]) < 0)
				die("out of memory");
			v = xs_read(xs, XBT_NULL, p, NULL);
			ve = xs_read(xs, XBT_NULL, e, NULL);
			list_vif(g, daemon, doms[i], devs[j], v, ve);
			free(v);
			free(ve);
			free(p);
			free(e);
		}
		free(devs);
		free(dp);
	}
	if (g) {
		const unsigned char *buf;
		size_t len;

		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		fwrite(buf, 1, len, stdout);
		yajl_gen_free(g);
	}
	yajl_tree_free(daemon);
	free(doms);
	free(root);
	xs_close(xs);
	return 0;
}

static int ctl_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		die("socket path too long");
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1); /* length checked above */
	/* A stopped daemon's socket still accepts: bound the wait for its
	 * answer rather than hang. */
	struct timeval tv = {.tv_sec = CLI_ANSWER_SECONDS};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Sends one request line to ipnetbackd on fd. */
static void ctl_send(int fd, const char *req)
{
	/* One write for the whole line: the daemon answers once it has it. */
	char line[128];
	int len = snprintf(line, sizeof(line), "%s\n", req);

	if (len < 0 || (size_t)len >= sizeof(line) || write(fd, line, (size_t)len) != len)
		die("writing to ipnetbackd: %s", strerror(errno));
}

/* The daemon's whole answer to req, or NULL if it does not answer. */
static char *ctl_fetch(const char *req)
{
	char buf[4096], *out = NULL;
	size_t outlen = 0;
	ssize_t n;
	int fd = ctl_connect();
	FILE *f;

	if (fd < 0)
		return NULL;
	f = open_memstream(&out, &outlen);
	if (!f)
		die("out of memory");
	ctl_send(fd, req);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	close(fd);
	if (n < 0) { /* no answer in time: as if it were not there */
		free(out);
		return NULL;
	}
	return out;
}

/* Sends one request to ipnetbackd and copies the answer to stdout. */
static int ctl_request(const char *req)
{
	char buf[4096];
	ssize_t n;
	int fd = ctl_connect();
	bool error = false, first = true;

	if (fd < 0)
		die("cannot reach ipnetbackd at %s: %s", sock_path, strerror(errno));
	ctl_send(fd, req);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && memcmp(buf, "error:", 6) == 0)
			error = true;
		first = false;
		fwrite(buf, 1, (size_t)n, error ? stderr : stdout);
	}
	close(fd);
	if (n < 0)
		die("no answer from ipnetbackd at %s within %d s: %s", sock_path,
		    CLI_ANSWER_SECONDS, strerror(errno));
	return error ? 1 : 0;
}

static int cmd_vif(int argc, char **argv)
{
	bool json = false;
	int nargs = 0;
	char *args[2] = {NULL, NULL};
	char req[96];
	unsigned int d, v;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (nargs < 2)
			args[nargs++] = argv[i];
		else
			usage();
	}
	if (nargs == 1 && strcmp(args[0], "list") == 0) {
		snprintf(req, sizeof(req), "vifs%s", json ? " json" : "");
	} else if (nargs == 2 && strcmp(args[0], "show") == 0 && parse_vif(args[1], &d, &v)) {
		snprintf(req, sizeof(req), "vif %u/%u%s", d, v, json ? " json" : "");
	} else {
		usage();
	}
	return ctl_request(req);
}

/* Asks ipnetbackd to stop, and returns once it has: its control socket
 * goes away as it exits (10 s at most). */
static int cmd_shutdown(int argc, char **argv)
{
	bool disconnect = argc == 1 && strcmp(argv[0], "--disconnect") == 0;
	int fd;

	if (argc > 1 || (argc == 1 && !disconnect))
		usage();
	if (ctl_request(disconnect ? "shutdown disconnect" : "shutdown") != 0)
		return 1;
	for (int i = 0; i < 200; i++) {
		fd = ctl_connect();
		if (fd < 0)
			return 0;
		close(fd);
		usleep(50 * 1000);
	}
	die("ipnetbackd still answers at %s 10 s after it said it was stopping", sock_path);
}

/* ---- capture ---------------------------------------------------------- */

/* The vif named NAME (its vifname, as `vif list` shows it), from the
 * daemon's `vifs json`; false if no vif has that name. */
static bool vif_by_name(const char *name, unsigned int *domid, unsigned int *devid)
{
	const char *k_vifs[] = {"vifs", NULL}, *k_name[] = {"name", NULL},
		   *k_domid[] = {"domid", NULL}, *k_devid[] = {"devid", NULL};
	char *js = ctl_fetch("vifs json");
	yajl_val root = js ? yajl_tree_parse(js, NULL, 0) : NULL;
	yajl_val list = yajl_tree_get(root, k_vifs, yajl_t_array);
	bool found = false;

	for (size_t i = 0; list && i < list->u.array.len && !found; i++) {
		yajl_val o = list->u.array.values[i];
		yajl_val on = yajl_tree_get(o, k_name, yajl_t_string);
		yajl_val od = yajl_tree_get(o, k_domid, yajl_t_number);
		yajl_val ov = yajl_tree_get(o, k_devid, yajl_t_number);

		const char *n = on ? on->u.string : NULL;

		if (n && od && ov && YAJL_IS_INTEGER(od) && YAJL_IS_INTEGER(ov) &&
		    strcmp(n, name) == 0) {
			*domid = (unsigned int)YAJL_GET_INTEGER(od);
			*devid = (unsigned int)YAJL_GET_INTEGER(ov);
			found = true;
		}
	}
	yajl_tree_free(root);
	free(js);
	return found;
}

static volatile sig_atomic_t cap_stop;

static void cap_on_signal(int sig)
{
	(void)sig;
	cap_stop = 1;
}

/* Reads the answer line ("capture D/V" or "error: ...") byte by byte, so
 * that no record behind it is consumed. */
static void cap_answer_line(int fd, char *line, size_t n)
{
	size_t len = 0;
	char ch;

	while (len + 1 < n) {
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR && !cap_stop)
			continue;
		if (r <= 0)
			die("no answer from ipnetbackd at %s", sock_path);
		if (ch == '\n')
			break;
		line[len++] = ch;
	}
	line[len] = '\0';
	if (strncmp(line, "error:", 6) == 0) {
		fprintf(stderr, "%s\n", line);
		exit(1);
	}
	if (strncmp(line, "capture ", 8) != 0)
		die("unexpected answer from ipnetbackd: \"%s\"", line);
}

struct cap_out {
	pcap_t *p;
	pcap_dumper_t *d;
	struct bpf_program prog;
	unsigned long count; /* stop after this many written, 0: never */
	unsigned long seen, written, dropped;
};

/* Filters and writes the whole records at buf[0..len); returns the bytes
 * used (a partial record stays for the next read). */
static size_t cap_records(struct cap_out *o, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(struct cap_rec) && (!o->count || o->written < o->count)) {
		struct cap_rec r;
		struct pcap_pkthdr h;

		memcpy(&r, buf + off, sizeof(r));
		if (r.caplen > CAP_SNAPLEN_MAX || r.caplen > r.len)
			die("ipnetbackd sent a malformed capture record");
		if (len - off - sizeof(r) < r.caplen)
			break;
		h.ts.tv_sec = (time_t)(r.ts_usec / 1000000u);
		h.ts.tv_usec = (suseconds_t)(r.ts_usec % 1000000u);
		h.caplen = r.caplen;
		h.len = r.len;
		o->seen++;
		o->dropped += r.dropped;
		if (pcap_offline_filter(&o->prog, &h, buf + off + sizeof(r))) {
			pcap_dump((u_char *)o->d, &h, buf + off + sizeof(r));
			o->written++;
		}
		off += sizeof(r) + r.caplen;
	}
	return off;
}

/*
 * capture VIF [-w FILE|-] [-s SNAPLEN] [-c COUNT] [-Q in|out|inout]
 * [FILTER...]: the vif's frames, as ipnetbackd sees them, that the BPF
 * FILTER (pcap-filter(7), the words joined as tcpdump joins them) passes,
 * written as a pcap file by libpcap, flushed after each read so that a
 * reader on a pipe (`| tcpdump -r -`) sees them at once. It stops on
 * SIGINT or SIGTERM, after COUNT packets, when the reader of its output
 * goes away, or when the vif does; a summary goes to stderr.
 */
static int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {{"write", required_argument, NULL, 'w'},
					     {"snaplen", required_argument, NULL, 's'},
					     {"count", required_argument, NULL, 'c'},
					     {"direction", required_argument, NULL, 'Q'},
					     {NULL, 0, NULL, 0}};
	const char *file = NULL, *dir = "inout";
	unsigned long snap = CAP_SNAPLEN_MAX;
	struct cap_out o = {0};
	char *filter = NULL, *end, req[96], line[96];
	unsigned int d, v;
	size_t flen = 0, have = 0;
	static uint8_t buf[1u << 20];
	int opt, fd;

	optind = 0; /* a new scan, of the command's own arguments */
	while ((opt = getopt_long(argc, argv, "w:s:c:Q:", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			file = optarg;
			break;
		case 's':
			errno = 0;
			snap = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '0' || optarg[0] > '9')
				usage();
			/* 0 is tcpdump's "everything"; the rest is clamped to
			 * what a frame can be. */
			if (snap == 0 || snap > CAP_SNAPLEN_MAX)
				snap = CAP_SNAPLEN_MAX;
			if (snap < CAP_SNAPLEN_MIN)
				snap = CAP_SNAPLEN_MIN;
			break;
		case 'c':
			errno = 0;
			o.count = strtoul(optarg, &end, 10);
			if (errno || *end || o.count == 0 || optarg[0] < '0' || optarg[0] > '9')
				usage();
			break;
		case 'Q':
			if (strcmp(optarg, "in") != 0 && strcmp(optarg, "out") != 0 &&
			    strcmp(optarg, "inout") != 0)
				usage();
			dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	/* A name without a slash may be a vif's name (as `tcpdump -i`
	 * takes it); otherwise a domain, as everywhere else. */
	if (!(strchr(argv[optind], '/') == NULL &&
	      (argv[optind][0] < '0' || argv[optind][0] > '9') &&
	      vif_by_name(argv[optind], &d, &v)) &&
	    !parse_vif(argv[optind], &d, &v))
		usage();
	for (int i = optind + 1; i < argc; i++) {
		size_t l = strlen(argv[i]);
		char *f = realloc(filter, flen + l + 2);

		if (!f)
			die("out of memory");
		filter = f;
		if (flen)
			filter[flen++] = ' ';
		memcpy(filter + flen, argv[i], l + 1);
		flen += l;
	}
	if (!file && isatty(STDOUT_FILENO))
		die("not writing pcap to a terminal: use -w FILE, or pipe it into tcpdump -r -");

	o.p = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snap,
						   PCAP_TSTAMP_PRECISION_MICRO);
	if (!o.p)
		die("out of memory");
	if (pcap_compile(o.p, &o.prog, filter ? filter : "", 1, PCAP_NETMASK_UNKNOWN) < 0)
		die("filter \"%s\": %s", filter ? filter : "", pcap_geterr(o.p));
	free(filter);

	fd = ctl_connect();
	if (fd < 0)
		die("cannot reach ipnetbackd at %s: %s", sock_path, strerror(errno));
	snprintf(req, sizeof(req), "capture %u/%u %lu %s", d, v, snap, dir);
	ctl_send(fd, req);
	cap_answer_line(fd, line, sizeof(line));
	/* Packets come when they come: no time limit from here on. */
	struct timeval forever = {0, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
	o.d = pcap_dump_open(o.p, file ? file : "-");
	if (!o.d)
		die("%s: %s", file ? file : "stdout", pcap_geterr(o.p));
	pcap_dump_flush(o.d); /* the file header, for a reader waiting on a pipe */

	/* No SA_RESTART: a signal ends the read below. A reader that goes
	 * away shows as a write error (EPIPE), not as SIGPIPE. */
	struct sigaction sa = {.sa_handler = cap_on_signal};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	const char *why = "interrupted";

	while (!cap_stop) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		size_t used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			why = n == 0
				  ? "ipnetbackd ended the capture (the vif or the daemon went away)"
				  : "reading from ipnetbackd failed";
			break;
		}
		have += (size_t)n;
		used = cap_records(&o, buf, have);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (pcap_dump_flush(o.d) < 0) {
			why = "the output's reader went away";
			break;
		}
		if (o.count && o.written >= o.count) {
			why = "count reached";
			break;
		}
	}
	close(fd); /* ipnetbackd ends the session */
	pcap_dump_close(o.d);
	pcap_freecode(&o.prog);
	pcap_close(o.p);
	fprintf(stderr, "ipnetback: %s: %lu packets written, %lu seen, %lu dropped by ipnetbackd\n",
		why, o.written, o.seen, o.dropped);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {NULL, 0, NULL, 0}};
	int opt;

	/* "+": options end at the command, whose own flags (--json) follow. */
	while ((opt = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'h':
			fputs(cli_usage, stdout);
			return 0;
		case 'V':
			printf("ipnetback %s\n", IPNB_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	/* The ports ("uplink", "host") and the daemon itself, each with an
	 * optional --json. */
	if (strcmp(argv[0], "uplink") == 0 || strcmp(argv[0], "host") == 0 ||
	    strcmp(argv[0], "daemon") == 0) {
		char req[32];

		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0))
			usage();
		snprintf(req, sizeof(req), "%s%s", argv[0], argc == 2 ? " json" : "");
		return ctl_request(req);
	}
	if (strcmp(argv[0], "shutdown") == 0)
		return cmd_shutdown(argc - 1, argv + 1);
	if (strcmp(argv[0], "capture") == 0)
		return cmd_capture(argc, argv);
	/* The Prometheus text, as the metrics listener serves it. */
	if (strcmp(argv[0], "metrics") == 0) {
		if (argc != 1)
			usage();
		return ctl_request("metrics");
	}
	if (argc < 2)
		usage();
	if (strcmp(argv[0], "ip") == 0) {
		if (strcmp(argv[1], "add") == 0)
			return cmd_ip_edit(true, argc - 2, argv + 2);
		if (strcmp(argv[1], "del") == 0)
			return cmd_ip_edit(false, argc - 2, argv + 2);
		if (strcmp(argv[1], "list") == 0)
			return cmd_ip_list(argc - 2, argv + 2);
		usage();
	}
	if (strcmp(argv[0], "vif") == 0)
		return cmd_vif(argc - 1, argv + 1);
	usage();
}
