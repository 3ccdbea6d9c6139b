// SPDX-License-Identifier: MIT
/*
 * Catalog schema migrations: sql/NNN-name.sql are embedded at build time and applied in order,
 * tracked by PRAGMA user_version (one number per migration). A database newer than the code is
 * refused rather than written to with a schema we do not know.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog-internal.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"

static const struct catalog_migration migrations[] = {
#include "catalog-migrations.h"
};

const struct catalog_migration *catalog_migrations(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(migrations);
	return migrations;
}

void catalog_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static int user_version(sqlite3 *db, int *ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -EIO;
	}
	*ret = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Checks that the embedded files are numbered 001, 002, ... without gaps, so the position in
 * the array and the user_version it leads to cannot disagree. */
static int check_numbering(char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(migrations); i++) {
		char want[8];

		snprintf(want, sizeof(want), "%03zu-", i + 1);
		if (strncmp(migrations[i].name, want, 4) != 0) {
			catalog_set_err(errbuf, errlen,
					"catalog migration %s is out of sequence (expected %s*)",
					migrations[i].name, want);
			return -EINVAL;
		}
	}
	return 0;
}

static int migrate(sqlite3 *db, char *errbuf, size_t errlen);

int catalog_migrate(sqlite3 *db, char *errbuf, size_t errlen)
{
	int defensive = 0, r;

	r = check_numbering(errbuf, errlen);
	if (r < 0)
		return r;
	/* Migration 12 edits table statements with PRAGMA writable_schema, which a connection in
	 * SQLite's defensive mode refuses (some builds turn it on by default): off while migrating,
	 * then as it was. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
	if (defensive)
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL);
	r = migrate(db, errbuf, errlen);
	if (defensive)
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	return r;
}

static int migrate(sqlite3 *db, char *errbuf, size_t errlen)
{
	int known = (int)ARRAY_SIZE(migrations);
	int r;

	for (;;) {
		char *msg = NULL;
		char bump[64];
		int v;

		/* The version is read inside the write transaction: another process that migrated
		 * meanwhile is seen, and nobody can migrate concurrently with us. */
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
			catalog_set_err(errbuf, errlen, "catalog: cannot begin migration: %s",
					msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			return -EIO;
		}
		r = user_version(db, &v);
		if (r < 0) {
			catalog_set_err(errbuf, errlen, "catalog: cannot read user_version: %s",
					sqlite3_errmsg(db));
			goto rollback;
		}
		if (v > known) {
			catalog_set_err(
				errbuf, errlen,
				"catalog schema version %d is newer than this siprecd knows (%d); "
				"use a newer siprecd or another CATALOG_PATH",
				v, known);
			r = -EPROTONOSUPPORT;
			goto rollback;
		}
		if (v < 0) {
			catalog_set_err(errbuf, errlen, "catalog: invalid user_version %d", v);
			r = -EPROTONOSUPPORT;
			goto rollback;
		}
		if (v == known) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			return 0;
		}

		log_debug("catalog: applying migration %s", migrations[v].name);
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(db, migrations[v].sql, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			catalog_set_err(errbuf, errlen, "catalog migration %s failed: %s",
					migrations[v].name, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			r = -EIO;
			goto rollback;
		}
	}

rollback:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}
