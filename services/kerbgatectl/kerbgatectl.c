/*
 * kerbgatectl: the administrator's command for kerbgated's credentials
 * (docs/credentials.md).  It talks to the parent's control socket (root
 * only) with the control frames of ctlproto.h, one request per connection.
 *
 *   kerbgatectl credentials stage -p EXCHASA$@CORP.CONTOSO.COM -k 7 \
 *       (--password-file FILE | --password-stdin | --keytab FILE)
 *   kerbgatectl credentials verify|activate|retire KVNO
 *   kerbgatectl credentials list
 *
 * and the keyholder's other secrets (docs/credentials.md, "Other secrets"):
 *
 *   kerbgatectl secrets stage pool NAME --secret-file FILE
 *   kerbgatectl secrets stage cookie
 *   kerbgatectl secrets stage tls VHOST --key-file KEY --cert-file CHAIN
 *   kerbgatectl secrets verify|activate|retire pool|tls NAME VERSION
 *   kerbgatectl secrets verify|activate|retire cookie VERSION
 *   kerbgatectl secrets list
 *
 * The password is never taken from the command line (other users can read
 * it in ps), nor a secret; the memory that held them is wiped.  Exit status: 0 done,
 * 1 refused or failed (the message says what to do), 2 usage or no daemon.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <krb5.h>

#include "ctlproto.h"
#include "secretstore.h"
#include "ipc.h"
#include "util.h"

#define DEFAULT_SOCKET	"/run/kerbgate/control.sock"

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
	    "usage: kerbgatectl [-s socket] credentials stage -p ACCOUNT@REALM -k KVNO\n"
	    "           (--password-file FILE | --password-stdin | --keytab FILE)\n"
	    "       kerbgatectl [-s socket] credentials verify|activate|retire KVNO\n"
	    "       kerbgatectl [-s socket] credentials list\n"
	    "       kerbgatectl [-s socket] secrets stage pool NAME --secret-file FILE\n"
	    "       kerbgatectl [-s socket] secrets stage cookie\n"
	    "       kerbgatectl [-s socket] secrets stage tls VHOST --key-file KEY "
	    "--cert-file CHAIN\n"
	    "       kerbgatectl [-s socket] secrets verify|activate|retire "
	    "pool|cookie|tls [NAME] VERSION\n"
	    "       kerbgatectl [-s socket] secrets list\n");
	exit(2);
}

/* The password: the file's first line (a file readable by others refused). */
static size_t
read_password(const char *path, char *pw, size_t len)
{
	struct stat st;
	FILE *f;
	size_t n;

	if (path != NULL) {
		if ((f = fopen(path, "r")) == NULL) {
			fprintf(stderr, "kerbgatectl: %s: %s\n", path, strerror(errno));
			exit(2);
		}
		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
			fprintf(stderr, "kerbgatectl: %s is readable by others: chmod 600 "
			    "%s\n", path, path);
			exit(2);
		}
	} else
		f = stdin;
	if (fgets(pw, (int)len, f) == NULL)
		pw[0] = '\0';
	if (f != stdin)
		fclose(f);
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "kerbgatectl: empty password\n");
		exit(2);
	}
	return n;
}

/* The account's AD keys at kvno (0: its highest) from a keytab file. */
static void
read_keytab(const char *path, struct ctl_req *r)
{
	krb5_context ctx;
	krb5_keytab kt;
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	krb5_principal want;
	char name[4200];
	unsigned best = r->kvno;

	if (krb5_init_context(&ctx) != 0 ||
	    krb5_parse_name(ctx, r->principal, &want) != 0) {
		fprintf(stderr, "kerbgatectl: bad account %s\n", r->principal);
		exit(2);
	}
	snprintf(name, sizeof(name), "FILE:%s", path);
	for (int pass = 0; pass < 2; pass++) {
		if (krb5_kt_resolve(ctx, name, &kt) != 0 ||
		    krb5_kt_start_seq_get(ctx, kt, &cur) != 0) {
			fprintf(stderr, "kerbgatectl: cannot read keytab %s\n", path);
			exit(2);
		}
		while (krb5_kt_next_entry(ctx, kt, &e, &cur) == 0) {
			int32_t et = e.keyblock.keytype;

			if (krb5_principal_compare(ctx, e.principal, want) &&
			    (et == 17 || et == 18 || et == 23)) {
				if (pass == 0 && r->kvno == 0 && (unsigned)e.vno > best)
					best = e.vno;
				if (pass == 1 && (unsigned)e.vno == best && r->nkeys < CTL_MAX_KEYS &&
				    e.keyblock.keyvalue.length <= CRED_MAX_KEY) {
					struct cred_key *k = &r->keys[r->nkeys++];

					k->enctype = et;
					k->len = e.keyblock.keyvalue.length;
					memcpy(k->bytes, e.keyblock.keyvalue.data, k->len);
				}
			}
			krb5_kt_free_entry(ctx, &e);
		}
		krb5_kt_end_seq_get(ctx, kt, &cur);
		krb5_kt_close(ctx, kt);
	}
	krb5_free_principal(ctx, want);
	krb5_free_context(ctx);
	if (r->nkeys == 0) {
		fprintf(stderr, "kerbgatectl: keytab %s holds no aes256, aes128 or rc4 "
		    "key of %s%s\n", path, r->principal, r->kvno ? " at that kvno" : "");
		exit(2);
	}
	r->kvno = best;
}

/* A file's bytes (at most max); one that is not private refused when
 * private is set. */
static uint8_t *
read_file(const char *path, size_t max, int private, size_t *len)
{
	struct stat st;
	uint8_t *b;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "kerbgatectl: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (private && fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
		fprintf(stderr, "kerbgatectl: %s is open to group or others: chmod 600 "
		    "%s\n", path, path);
		exit(2);
	}
	if ((b = calloc(1, max + 1)) == NULL)
		exit(2);
	*len = fread(b, 1, max + 1, f);
	fclose(f);
	if (*len == 0 || *len > max) {
		fprintf(stderr, "kerbgatectl: %s: %s (at most %zu bytes)\n", path,
		    *len == 0 ? "empty" : "too large", max);
		exit(2);
	}
	return b;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	kg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "kerbgatectl: cannot connect to %s: %s (is kerbgated "
		    "running with credentials.control_socket set? run as root)\n", path,
		    strerror(errno));
		exit(2);
	}
	return fd;
}

/* Sends the request, prints the answer; the exit status. */
static int
exchange(const char *path, const struct ctl_req *r)
{
	struct kg_ipc_reader rd;
	struct kg_ipc_frame f;
	struct ctl_result *res;
	uint8_t *out;
	size_t n;
	int fd, rc, st = 2;

	if (ctl_req_encode(r, &out, &n) != 0) {
		fprintf(stderr, "kerbgatectl: cannot encode the request\n");
		return 2;
	}
	fd = connect_to(path);
	rc = kg_ipc_send(fd, r->type, 1, out, n);
	kg_freezero(out, n);
	if (rc != KG_OK) {
		fprintf(stderr, "kerbgatectl: cannot send the request\n");
		return 2;
	}
	kg_ipc_reader_init(&rd);
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return 2;
	for (;;) {
		if ((rc = kg_ipc_read(&rd, fd)) < 0 && rc != KG_ERR_AGAIN) {
			fprintf(stderr, "kerbgatectl: kerbgated closed the connection "
			    "without an answer: see its log\n");
			break;
		}
		if ((rc = kg_ipc_next(&rd, &f)) == 0)
			continue;
		if (rc < 0 || f.type != CTL_MSG_RESULT ||
		    ctl_result_decode(f.payload, f.len, res) != 0) {
			fprintf(stderr, "kerbgatectl: malformed answer\n");
			break;
		}
		fprintf(res->status == CTL_OK ? stdout : stderr, "%s\n", res->text);
		st = res->status == CTL_OK ? 0 : 1;
		break;
	}
	free(res);
	kg_ipc_reader_free(&rd);
	close(fd);
	return st;
}

static uint32_t
kvno_arg(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 0x7fffffffUL)
		usage();
	return (uint32_t)v;
}

/* kerbgatectl secrets ...: args after "secrets". */
static int
secrets(const char *sock, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret-file", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "cert-file", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sfile = NULL, *kfile = NULL, *cfile = NULL, *verb = argv[0];
	uint8_t *sec = NULL, *crt = NULL;
	size_t slen = 0, clen = 0;
	struct ctl_req r;
	int ch, rest, st;
	char **a;

	memset(&r, 0, sizeof(r));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's': sfile = optarg; break;
		case 'k': kfile = optarg; break;
		case 'c': cfile = optarg; break;
		default: usage();
		}
	}
	rest = argc - optind;
	a = argv + optind;
	if (strcmp(verb, "list") == 0) {
		if (rest != 0)
			usage();
		r.type = CTL_MSG_SECRET_LIST;
		return exchange(sock, &r);
	}
	if (rest < 1 || (r.kind = secret_kind_parse(a[0])) == 0)
		usage();
	if (r.kind != SECRET_COOKIE) {
		if (rest < 2)
			usage();
		kg_strlcpy(r.name, a[1], sizeof(r.name));
	}
	rest -= r.kind == SECRET_COOKIE ? 1 : 2;
	a += r.kind == SECRET_COOKIE ? 1 : 2;
	if (strcmp(verb, "stage") == 0) {
		if (rest != 0 || (r.kind == SECRET_POOL) != (sfile != NULL) ||
		    (r.kind == SECRET_TLS) != (kfile != NULL && cfile != NULL) ||
		    (r.kind != SECRET_TLS && (kfile != NULL || cfile != NULL)))
			usage();
		r.type = CTL_MSG_SECRET_STAGE;
		if (sfile != NULL &&
		    (sec = read_file(sfile, SECRET_POOL_MAX, 1, &slen)) != NULL &&
		    slen < SECRET_POOL_MIN) {
			fprintf(stderr, "kerbgatectl: %s holds %zu bytes: a header secret "
			    "is %d to %d (head -c 48 /dev/urandom)\n", sfile, slen,
			    SECRET_POOL_MIN, SECRET_POOL_MAX);
			exit(2);
		}
		if (kfile != NULL) {
			sec = read_file(kfile, SECRET_TLS_KEY_MAX, 1, &slen);
			crt = read_file(cfile, SECRET_TLS_MAX - slen, 0, &clen);
		}
		r.secret = sec;
		r.secretlen = slen;
		r.cert = crt;
		r.certlen = clen;
	} else {
		if (rest != 1 || sfile != NULL || kfile != NULL || cfile != NULL)
			usage();
		r.kvno = kvno_arg(a[0]);
		if (strcmp(verb, "verify") == 0)
			r.type = CTL_MSG_SECRET_VERIFY;
		else if (strcmp(verb, "activate") == 0)
			r.type = CTL_MSG_SECRET_ACTIVATE;
		else if (strcmp(verb, "retire") == 0)
			r.type = CTL_MSG_SECRET_RETIRE;
		else
			usage();
	}
	st = exchange(sock, &r);
	if (sec != NULL)
		kg_freezero(sec, slen);
	free(crt);
	return st;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "principal", required_argument, NULL, 'p' },
		{ "kvno", required_argument, NULL, 'k' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "password-stdin", no_argument, NULL, 'i' },
		{ "keytab", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = DEFAULT_SOCKET, *pwfile = NULL, *keytab = NULL, *verb;
	struct ctl_req r;
	char pw[CTL_MAX_PASSWORD + 2];
	char **args;
	int ch, pwstdin = 0, st, base, rest;

	memset(&r, 0, sizeof(r));
	/* Options before the command (-s), then the command's own. */
	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		if (ch != 's')
			usage();
		sock = optarg;
	}
	if (argc - optind >= 2 && strcmp(argv[optind], "secrets") == 0)
		return secrets(sock, argc - optind - 1, argv + optind + 1);
	if (argc - optind < 2 || strcmp(argv[optind], "credentials") != 0)
		usage();
	base = optind + 1;		/* the verb, as argv[0] of its options */
	verb = argv[base];
	optind = 0;			/* glibc: start getopt afresh */
	while ((ch = getopt_long(argc - base, argv + base, "p:k:f:it:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p': kg_strlcpy(r.principal, optarg, sizeof(r.principal)); break;
		case 'k': r.kvno = kvno_arg(optarg); break;
		case 'f': pwfile = optarg; break;
		case 'i': pwstdin = 1; break;
		case 't': keytab = optarg; break;
		default: usage();
		}
	}
	rest = argc - base - optind;
	args = argv + base + optind;
	if (strcmp(verb, "stage") == 0) {
		if (rest != 0 || r.principal[0] == '\0' ||
		    (pwfile != NULL) + pwstdin + (keytab != NULL) != 1 ||
		    (r.kvno == 0 && keytab == NULL))
			usage();
		r.type = CTL_MSG_STAGE;
		if (keytab != NULL)
			read_keytab(keytab, &r);
		else {
			r.pwlen = read_password(pwfile, pw, sizeof(pw));
			r.password = (const uint8_t *)pw;
		}
	} else if (strcmp(verb, "list") == 0) {
		if (rest != 0)
			usage();
		r.type = CTL_MSG_LIST;
	} else {
		if (rest != 1)
			usage();
		r.kvno = kvno_arg(args[0]);
		if (strcmp(verb, "verify") == 0)
			r.type = CTL_MSG_VERIFY;
		else if (strcmp(verb, "activate") == 0)
			r.type = CTL_MSG_ACTIVATE;
		else if (strcmp(verb, "retire") == 0)
			r.type = CTL_MSG_RETIRE;
		else
			usage();
	}
	st = exchange(sock, &r);
	kg_zero(pw, sizeof(pw));
	kg_zero(&r, sizeof(r));
	return st;
}
