// SPDX-License-Identifier: MIT
/*
 * siprecd: the SIPREC Session Recording Server. run(): parse arguments -> load configuration ->
 * manager_new -> manager_start (listen, READY=1) -> loop -> STOPPING=1 -> free.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon/manager.h"
#include "siprecd/config.h"
#include "siprecd/fds.h"
#include "siprecd/log.h"
#include "siprecd/srtp.h"

extern char **environ;

/* The descriptor table grown at start holds up to this many (the shipped units'
 * LimitNOFILE=65536): 512 KiB of kernel memory at most, one pointer a descriptor. */
#define FDS_TABLE_RESERVE_MAX 65536UL

static void help(FILE *out)
{
	fprintf(out,
		"Usage: siprecd [OPTIONS]\n"
		"SIPREC Session Recording Server (RFC 7866): records SIP calls forked by an SBC "
		"or\n"
		"PBX, encrypted at rest, with a catalog in sqlite.\n\n"
		"  -c, --config PATH    configuration file (default %s; a missing default file is\n"
		"                       fine, every key can also come from the environment)\n"
		"      --check-config   validate the configuration, print it (secrets masked), "
		"exit\n"
		"      --config-keys    list every configuration key with its default and meaning\n"
		"  -h, --help           this text\n"
		"      --version        version and build features\n\n"
		"Signals: SIGTERM/SIGINT stop gracefully (recordings are finalized), SIGHUP "
		"reloads\n"
		"the configuration and TLS certificates.\n"
		"Docs: README.md, docs/CONFIG.md, man siprecd(8).\n",
		CONFIG_DEFAULT_PATH);
}

static void version(void)
{
	printf("siprecd %s (%s)\nlibsrtp2 backend: %s\n", SIPRECD_VERSION, SIPRECD_GIT,
	       SIPRECD_SRTP_BACKEND);
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
		{"config-keys", no_argument, NULL, 'K'},  {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {},
	};
	const char *config_path = NULL;
	bool check = false;
	struct config cfg;
	struct manager *m = NULL;
	unsigned long fds;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'K':
			config_print_help(stdout);
			return 0;
		case 'h':
			help(stdout);
			return 0;
		case 'V':
			version();
			return 0;
		default:
			help(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "siprecd: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}

	r = config_load(&cfg, config_path, environ, stderr);
	if (r < 0) {
		fprintf(stderr, "siprecd: configuration invalid, not starting\n");
		return 1;
	}
	if (check) {
		config_print(&cfg, stdout);
		config_free(&cfg);
		return 0;
	}

	log_setup(log_target_from_string(cfg.log_target), cfg.log_level, NULL);

	/* Before manager_new starts the threads (include/siprecd/fds.h): grown later, each
	 * doubling of the table stalled the SIP thread and the media worker together for 10-23 ms
	 * in the first second of calls at 1,000 setups/s (bench/RESULTS.md, issue 12, stall). */
	r = fds_table_reserve(FDS_TABLE_RESERVE_MAX, &fds);
	if (r < 0)
		log_warning("descriptor table not grown ahead: %s", strerror(-r));
	else
		log_debug("descriptor table grown ahead to %lu", fds);

	r = manager_new(&cfg, &m);
	if (r < 0) {
		config_free(&cfg);
		return 1;
	}
	r = manager_start(m);
	if (r >= 0)
		r = manager_run(m);
	manager_free(m);
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	/*
	 * glibc gives an arena's free top back to the kernel once 128 KiB lie there (raised only
	 * after a larger mmap'd block was freed). The catalog thread's SQLite frees and reallocates
	 * its buffers every batch: trimmed, they came back as fresh zeroed pages, 25-29 page faults
	 * per call at 500 setups/s (bench/setup-rate.sh). Fixed thresholds keep up to 16 MiB of an
	 * arena's free top mapped (0.4 faults per call) and mmap blocks from 4 MiB.
	 */
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	(void)srtp_openssl_mem_init(); /* before any OpenSSL call (include/siprecd/srtp.h) */
	return run(argc, argv);
}
