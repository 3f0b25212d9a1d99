/*
 * kerbgate-bootstate: reads and changes the A/B boot state (bootstate.h).
 *
 * It is RAUC's "custom" bootloader backend (system.conf:
 * bootloader=custom, [handlers] bootloader-custom-backend=kerbgate-bootstate):
 * RAUC calls it with get-primary, set-primary, get-state, set-state and
 * get-current.  The appliance also runs `repair` once per boot, and
 * `mark-good` when its services are healthy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generated/autoconf.h"
#include "bootstate.h"

#ifdef CONFIG_BOOTSTATE_DIR
#define BS_DEFAULT_DIR CONFIG_BOOTSTATE_DIR
#else
#define BS_DEFAULT_DIR "/boot/efi/kerbgate"
#endif

static const char *dir = BS_DEFAULT_DIR;
static const char *cmdline_file = "/proc/cmdline";

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kerbgate-bootstate [-d DIR] [-c CMDLINE] COMMAND\n"
	    "  status                 which slot booted and why; both copies; the next boot\n"
	    "  init [--force]         write the first state (A primary and good, B not)\n"
	    "  repair                 rewrite a copy that is not whole from the other\n"
	    "  mark-good              the booted slot is healthy: good, tries reset\n"
	    "  get-primary            the slot GRUB boots next\n"
	    "  set-primary A|B        boot this slot next (on trial: tries reset)\n"
	    "  get-state A|B          good or bad\n"
	    "  set-state A|B good|bad\n"
	    "  get-current            the slot that booted\n"
	    "DIR is the folder on the ESP holding env1/ and env2/ (default %s).\n",
	    BS_DEFAULT_DIR);
	exit(2);
}

/* The value of NAME= on the kernel command line GRUB passed, or NULL. */
static const char *
cmdline_value(const char *name, char *buf, size_t len)
{
	static char line[4096];
	size_t nl = strlen(name), n;
	const char *p;
	FILE *f;

	if ((f = fopen(cmdline_file, "r")) == NULL)
		return NULL;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	for (p = line; (p = strstr(p, name)) != NULL; p += nl) {
		if ((p != line && p[-1] != ' ') || p[nl] != '=')
			continue;
		p += nl + 1;
		n = strcspn(p, " \n");
		if (n >= len)
			return NULL;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

static int
current_slot(void)
{
	char v[16];

	return bs_slot_index(cmdline_value("rauc.slot", v, sizeof(v)));
}

static int
fail(const char *what, int rc)
{
	if (rc == BS_ERR_IO)
		fprintf(stderr, "kerbgate-bootstate: %s: %s in %s: %s\n", what,
		    bs_strerror(rc), dir, strerror(errno));
	else
		fprintf(stderr, "kerbgate-bootstate: %s: %s (%s)\n", what,
		    bs_strerror(rc), dir);
	return 1;
}

static int
slot_arg(const char *name)
{
	int s = bs_slot_index(name);

	if (s < 0) {
		fprintf(stderr, "kerbgate-bootstate: '%s' is not a slot: say A or B\n",
		    name ? name : "");
		exit(2);
	}
	return s;
}

/* ---- changes, applied by bs_update() --------------------------------------- */

static int
change_primary(struct bs_state *st, void *arg)
{
	int s = *(int *)arg;

	st->order[0] = s;
	st->order[1] = !s;
	st->slot[s].ok = true;
	st->slot[s].tries = 0;
	return 0;
}

struct state_change {
	int	slot;
	bool	good;
};

static int
change_state(struct bs_state *st, void *arg)
{
	struct state_change *c = arg;

	st->slot[c->slot].ok = c->good;
	st->slot[c->slot].tries = 0;
	return 0;
}

/* ---- commands ---------------------------------------------------------------- */

static int
cmd_status(void)
{
	enum bs_copy_status cs[BS_NCOPIES];
	struct bs_state st;
	char why[64], env[8];
	int chosen = 0, rc, cur, next, i;

	cur = current_slot();
	printf("booted:     %s", cur < 0 ? "unknown (no rauc.slot= on the kernel command line)" :
	    bs_slot_name(cur));
	if (cur >= 0 && cmdline_value("kg.why", why, sizeof(why)))
		printf(" (%s)", why);
	if (cur >= 0 && cmdline_value("kg.env", env, sizeof(env)))
		printf(", state read from copy %s", env);
	printf("\n");
	rc = bs_load(&bs_posix_io, dir, &st, &chosen, cs);
	for (i = 0; i < BS_NCOPIES; i++)
		printf("copy %d:     %s%s\n", i + 1, bs_copy_strstatus(cs[i]),
		    i + 1 == chosen ? " (in use)" : "");
	if (rc < 0)
		return fail("status", rc);
	printf("sequence:   %llu\n", (unsigned long long)st.seq);
	printf("order:      %s %s\n", bs_slot_name(st.order[0]), bs_slot_name(st.order[1]));
	for (i = 0; i < BS_NSLOTS; i++)
		printf("slot %s:     %s, %u of %d boot attempts used\n", bs_slot_name(i),
		    st.slot[i].ok ? "good" : "bad", st.slot[i].tries, BS_MAX_TRIES);
	next = bs_next_boot(&st);
	if (next < 0)
		printf("next boot:  %s (no slot is good with attempts left: GRUB boots it anyway)\n",
		    bs_slot_name(st.order[0]));
	else
		printf("next boot:  %s\n", bs_slot_name(next));
	return 0;
}

static int
cmd_init(int force)
{
	struct bs_state st;
	int rc;

	if (!force && bs_load(&bs_posix_io, dir, &st, NULL, NULL) == 0) {
		fprintf(stderr, "kerbgate-bootstate: init: %s already holds a whole boot state "
		    "(sequence %llu); --force overwrites it\n", dir, (unsigned long long)st.seq);
		return 1;
	}
	bs_state_default(&st);
	if ((rc = bs_create(&bs_posix_io, dir, &st)) < 0)
		return fail("init", rc);
	return 0;
}

static int
cmd_repair(void)
{
	int rc, n;

	if ((rc = bs_repair(&bs_posix_io, dir, &n)) < 0)
		return fail("repair", rc);
	if (n > 0)
		printf("kerbgate-bootstate: rewrote %d copy of the boot state from the other\n", n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct state_change sc;
	struct bs_state st;
	const char *env;
	int i = 1, rc, s;

	if ((env = getenv("KERBGATE_BOOTSTATE_DIR")) != NULL && *env)
		dir = env;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cmdline_file = argv[++i];
		else
			usage();
	}
	if (i >= argc)
		usage();
	argc -= i;
	argv += i;

	if (strcmp(argv[0], "status") == 0)
		return cmd_status();
	if (strcmp(argv[0], "init") == 0)
		return cmd_init(argc > 1 && strcmp(argv[1], "--force") == 0);
	if (strcmp(argv[0], "repair") == 0)
		return cmd_repair();
	if (strcmp(argv[0], "get-current") == 0) {
		if ((s = current_slot()) < 0) {
			fprintf(stderr, "kerbgate-bootstate: get-current: no rauc.slot= on the "
			    "kernel command line (not booted through kerbgate's GRUB script?)\n");
			return 1;
		}
		printf("%s\n", bs_slot_name(s));
		return 0;
	}
	if (strcmp(argv[0], "get-primary") == 0) {
		if ((rc = bs_load(&bs_posix_io, dir, &st, NULL, NULL)) < 0)
			return fail("get-primary", rc);
		s = bs_next_boot(&st);
		printf("%s\n", bs_slot_name(s < 0 ? st.order[0] : s));
		return 0;
	}
	if (strcmp(argv[0], "set-primary") == 0 && argc == 2) {
		s = slot_arg(argv[1]);
		if ((rc = bs_update(&bs_posix_io, dir, change_primary, &s)) < 0)
			return fail("set-primary", rc);
		return 0;
	}
	if (strcmp(argv[0], "get-state") == 0 && argc == 2) {
		s = slot_arg(argv[1]);
		if ((rc = bs_load(&bs_posix_io, dir, &st, NULL, NULL)) < 0)
			return fail("get-state", rc);
		printf("%s\n", st.slot[s].ok ? "good" : "bad");
		return 0;
	}
	if (strcmp(argv[0], "set-state") == 0 && argc == 3) {
		sc.slot = slot_arg(argv[1]);
		if (strcmp(argv[2], "good") != 0 && strcmp(argv[2], "bad") != 0)
			usage();
		sc.good = strcmp(argv[2], "good") == 0;
		if ((rc = bs_update(&bs_posix_io, dir, change_state, &sc)) < 0)
			return fail("set-state", rc);
		return 0;
	}
	if (strcmp(argv[0], "mark-good") == 0) {
		if ((sc.slot = current_slot()) < 0) {
			fprintf(stderr, "kerbgate-bootstate: mark-good: cannot tell which slot "
			    "booted (no rauc.slot= on the kernel command line)\n");
			return 1;
		}
		sc.good = true;
		if ((rc = bs_update(&bs_posix_io, dir, change_state, &sc)) < 0)
			return fail("mark-good", rc);
		return 0;
	}
	usage();
	return 2;
}
