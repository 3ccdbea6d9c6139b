// SPDX-License-Identifier: MIT
/*
 * siprecd-keys: the operator's tool for the key hierarchy (docs/KEYS.md): list data key
 * versions, rotate, crypto-shred a version, re-wrap everything under a new KEK, and write,
 * verify and restore encrypted key backups. It reads siprecd's configuration for the KEK source.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "siprecd/catalog.h"
#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecd/macro.h"

static struct {
	const char *config;
	uint32_t version;
	bool yes;
	const char *reason;
	const char *passphrase_file;
	const char *new_store;
	const char *new_key_path;
	const char *new_password_file;
	const char *new_kdf;
} arg;

static void help(void)
{
	printf("Usage: siprecd-keys [OPTIONS] COMMAND [FILE]\n"
	       "\n"
	       "Manages siprecd's key hierarchy (KEK source and catalog from siprecd's config).\n"
	       "\n"
	       "Commands:\n"
	       "  list                      data key versions and their state\n"
	       "  rotate                    create and activate a new data key version\n"
	       "  destroy --version N --yes crypto-shred version N: its recordings become\n"
	       "                            permanently unreadable\n"
	       "  rekek --new-store STORE   re-wrap every data key under a new KEK\n"
	       "        [--new-key-path P] [--new-password-file F] [--new-kdf argon2id|pbkdf2]\n"
	       "  backup FILE               write the wrapped key set, sealed under a passphrase\n"
	       "  verify FILE               check a backup (and that it unwraps under the KEK)\n"
	       "  restore FILE              import a backup into a catalog that has no keys\n"
	       "\n"
	       "Options:\n"
	       "  -c, --config PATH         siprecd configuration file\n"
	       "      --passphrase-file F   backup passphrase (never on the command line)\n"
	       "      --reason TEXT         reason recorded in the key-destroyed audit event\n"
	       "  -h, --help                show this help\n");
}

static int read_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(stderr, "siprecd-keys: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	return 0;
}

static void fmt_time(uint64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(buf, n, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_key(void *ud, const struct keys_info *i)
{
	char c[32], a[32], r[32], d[32];

	fmt_time(i->created_at, c, sizeof(c));
	fmt_time(i->activated_at, a, sizeof(a));
	fmt_time(i->retired_at, r, sizeof(r));
	fmt_time(i->destroyed_at, d, sizeof(d));
	printf("%-22s %7u %-9s %-8s %-22s %s %s %s %s\n", i->key_id, i->version, i->state,
	       i->algorithm, i->kek_id[0] ? i->kek_id : "-", c, a, r, d);
	return 0;
}

static struct keys_options options_of(const struct config *c, bool readonly)
{
	return (struct keys_options){.store = c->encryption_key_store,
				     .catalog_path = c->catalog_path,
				     .key_path = c->master_key_path,
				     .password = c->master_password,
				     .kdf = c->kdf,
				     .pbkdf2_iterations = c->pbkdf2_iterations,
				     .readonly = readonly,
				     .public_key_path = c->recording_public_key,
				     /* rotate backs up like the daemon does (KEY_BACKUP_ENABLED) */
				     .backup_dir =
					     c->key_backup_enabled ? c->key_backup_path : NULL,
				     .backup_passphrase_file = c->key_backup_passphrase_file};
}

int main(int argc, char **argv)
{
	enum {
		OPT_VERSION = 256,
		OPT_YES,
		OPT_REASON,
		OPT_PASS,
		OPT_NSTORE,
		OPT_NPATH,
		OPT_NPW,
		OPT_NKDF
	};
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"version", required_argument, NULL, OPT_VERSION},
		{"yes", no_argument, NULL, OPT_YES},
		{"reason", required_argument, NULL, OPT_REASON},
		{"passphrase-file", required_argument, NULL, OPT_PASS},
		{"new-store", required_argument, NULL, OPT_NSTORE},
		{"new-key-path", required_argument, NULL, OPT_NPATH},
		{"new-password-file", required_argument, NULL, OPT_NPW},
		{"new-kdf", required_argument, NULL, OPT_NKDF},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct config cfg;
	struct keys *k = NULL;
	char pass[1024] = "", npw[1024] = "";
	const char *cmd, *file = NULL;
	unsigned n = 0;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg.config = optarg;
			break;
		case OPT_VERSION: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > UINT32_MAX) {
				fprintf(stderr, "siprecd-keys: bad --version %s\n", optarg);
				return 1;
			}
			arg.version = (uint32_t)v;
			break;
		}
		case OPT_YES:
			arg.yes = true;
			break;
		case OPT_REASON:
			arg.reason = optarg;
			break;
		case OPT_PASS:
			arg.passphrase_file = optarg;
			break;
		case OPT_NSTORE:
			arg.new_store = optarg;
			break;
		case OPT_NPATH:
			arg.new_key_path = optarg;
			break;
		case OPT_NPW:
			arg.new_password_file = optarg;
			break;
		case OPT_NKDF:
			arg.new_kdf = optarg;
			break;
		case 'h':
			help();
			return 0;
		default:
			fprintf(stderr, "Try 'siprecd-keys --help'.\n");
			return 1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "siprecd-keys: no command\nTry 'siprecd-keys --help'.\n");
		return 1;
	}
	cmd = argv[optind++];
	if (optind < argc)
		file = argv[optind++];
	if (config_load(&cfg, arg.config, NULL, stderr) < 0)
		return 1;
	if ((!strcmp(cmd, "backup") || !strcmp(cmd, "verify") || !strcmp(cmd, "restore"))) {
		if (!file || !arg.passphrase_file) {
			fprintf(stderr, "siprecd-keys: %s needs FILE and --passphrase-file\n", cmd);
			goto out;
		}
		if (read_text(arg.passphrase_file, pass, sizeof(pass)) < 0)
			goto out;
	}
	/* A missing catalog is created (and migrated) first; it holds no sessions yet. */
	if (strcmp(cmd, "list") && strcmp(cmd, "verify") && strcmp(cmd, "backup")) {
		if (access(cfg.catalog_path, F_OK) < 0) {
			struct catalog *cat;
			char err[512];

			if (catalog_open(cfg.catalog_path, err, sizeof(err), &cat) < 0) {
				fprintf(stderr, "siprecd-keys: %s\n", err);
				goto out;
			}
			catalog_free(cat);
		}
	}
	if (!strcmp(cmd, "restore")) {
		r = keys_backup_restore(cfg.catalog_path, file, pass, &n);
		if (r < 0) {
			fprintf(stderr, "siprecd-keys: %s\n", keys_error());
			goto out;
		}
		printf("restored %u key records into %s\n", n, cfg.catalog_path);
		status = 0;
		goto out;
	}
	{
		struct keys_options o =
			options_of(&cfg, !strcmp(cmd, "list") || !strcmp(cmd, "verify") ||
						 !strcmp(cmd, "backup"));
		r = keys_open(&o, &k);
	}
	if (r < 0) {
		fprintf(stderr, "siprecd-keys: %s\n", keys_error());
		status = r == -EKEYREJECTED ? 3 : 1;
		goto out;
	}
	if (!strcmp(cmd, "list")) {
		printf("%-22s %7s %-9s %-8s %-22s %s\n", "KEY_ID", "VERSION", "STATE", "ALG", "KEK",
		       "CREATED ACTIVATED RETIRED DESTROYED");
		r = keys_list(k, print_key, NULL);
	} else if (!strcmp(cmd, "rotate")) {
		uint32_t v;

		r = keys_rotate_dek(k, &v);
		if (r == 0)
			printf("rotated: %s version %u is active\n", keys_current_key_id(k), v);
		if (r == 0 && cfg.key_backup_enabled && *keys_last_backup(k))
			printf("backup: %s/%s\n", cfg.key_backup_path, keys_last_backup(k));
		else if (r == 0 && cfg.key_backup_enabled) {
			fprintf(stderr, "siprecd-keys: the rotation is done but the automatic "
					"key backup failed\n");
			r = -EIO; /* keys_error() says why */
		}
	} else if (!strcmp(cmd, "destroy")) {
		if (!arg.version || !arg.yes) {
			fprintf(stderr, "siprecd-keys: destroy needs --version N and --yes (every "
					"recording under that version becomes unreadable)\n");
			goto out;
		}
		r = keys_destroy_dek(k, arg.version, arg.reason, &n);
		if (r == 0)
			printf("destroyed %s version %u; %u recording%s marked shredded\n",
			       keys_current_key_id(k), arg.version, n, n == 1 ? "" : "s");
	} else if (!strcmp(cmd, "rekek")) {
		struct keys_options o = options_of(&cfg, false);

		if (!arg.new_store) {
			fprintf(stderr, "siprecd-keys: rekek needs --new-store\n");
			goto out;
		}
		o.store = arg.new_store;
		if (arg.new_key_path)
			o.key_path = arg.new_key_path;
		if (arg.new_kdf)
			o.kdf = arg.new_kdf;
		o.password = NULL;
		if (arg.new_password_file) {
			if (read_text(arg.new_password_file, npw, sizeof(npw)) < 0)
				goto out;
			o.password = npw;
		}
		r = keys_rekek(k, &o);
		if (r == 0)
			printf("every data key is now wrapped by the new KEK (%s)\n",
			       arg.new_store);
	} else if (!strcmp(cmd, "backup")) {
		r = keys_backup(k, file, pass, &n);
		if (r == 0)
			printf("backed up %u key records to %s\n", n, file);
	} else if (!strcmp(cmd, "verify")) {
		r = keys_backup_verify(k, file, pass, &n);
		if (r == 0)
			printf("%s: intact, %u key records, every data key unwraps\n", file, n);
	} else {
		fprintf(stderr, "siprecd-keys: unknown command %s\n", cmd);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "siprecd-keys: %s: %s\n", cmd,
			*keys_error() ? keys_error() : strerror(-r));
		status = r == -EKEYREJECTED ? 3 : 1;
		goto out;
	}
	status = 0;
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(npw, sizeof(npw));
	keys_free(k);
	config_free(&cfg);
	return status;
}
