// SPDX-License-Identifier: MIT
/*
 * SQLite's page cache, with one scan less. When a b-tree page splits, SQLite may swap the page
 * numbers of two new pages through a temporary number, the lock-byte page's (PENDING_BYTE / page
 * size + 1: 262,145 with 4 KiB pages), which no page ever has. The default cache keeps the
 * largest number it has seen, and at every commit truncates itself to the database's size: with
 * that number seen, the truncation walks its whole hash table, every page of the catalog's 64
 * MiB cache (16,384), though no page is past the end. This wrapper keeps the largest number
 * other than that one, and whether a page may hold that one, and passes a truncation on only when
 * a page could be at or past its limit. Everything else is the default cache's (its methods, taken
 * before SQLite starts).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "catalog/catalog-internal.h"

struct pc {
	sqlite3_pcache *real;
	unsigned temp_key; /* the lock-byte page's number: the swap's temporary one */
	unsigned max_key;  /* no page has a larger number, but for temp_key */
	bool at_temp;	   /* a page may have temp_key (one at most: numbers are unique) */
};

static sqlite3_pcache_methods2 real_methods;
static unsigned long long n_skipped, n_passed;

static int pc_init(void *arg)
{
	return real_methods.xInit ? real_methods.xInit(real_methods.pArg) : SQLITE_OK;
}

static void pc_shutdown(void *arg)
{
	if (real_methods.xShutdown)
		real_methods.xShutdown(real_methods.pArg);
}

/* SQLite's PENDING_BYTE: the lock byte, at 1 GiB; its page is never a b-tree page. */
#define LOCK_BYTE_OFFSET 0x40000000u

static sqlite3_pcache *pc_create(int page_size, int extra, int purgeable)
{
	struct pc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->real = real_methods.xCreate(page_size, extra, purgeable);
	if (!p->real) {
		free(p);
		return NULL;
	}
	p->temp_key = LOCK_BYTE_OFFSET / (unsigned)page_size + 1;
	return (sqlite3_pcache *)p;
}

static void pc_cachesize(sqlite3_pcache *c, int n)
{
	struct pc *p = (struct pc *)c;

	real_methods.xCachesize(p->real, n);
}

static int pc_pagecount(sqlite3_pcache *c)
{
	struct pc *p = (struct pc *)c;

	return real_methods.xPagecount(p->real);
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *c, unsigned key, int create)
{
	struct pc *p = (struct pc *)c;
	sqlite3_pcache_page *pg = real_methods.xFetch(p->real, key, create);

	if (!pg)
		return NULL;
	if (key == p->temp_key)
		p->at_temp = true;
	else if (key > p->max_key)
		p->max_key = key;
	return pg;
}

static void pc_unpin(sqlite3_pcache *c, sqlite3_pcache_page *pg, int discard)
{
	struct pc *p = (struct pc *)c;

	real_methods.xUnpin(p->real, pg, discard);
}

static void pc_rekey(sqlite3_pcache *c, sqlite3_pcache_page *pg, unsigned old_key, unsigned new_key)
{
	struct pc *p = (struct pc *)c;

	real_methods.xRekey(p->real, pg, old_key, new_key);
	if (old_key == p->temp_key)
		p->at_temp = false;
	if (new_key == p->temp_key)
		p->at_temp = true;
	else if (new_key > p->max_key)
		p->max_key = new_key;
}

static void pc_truncate(sqlite3_pcache *c, unsigned limit)
{
	struct pc *p = (struct pc *)c;

	/* No page at or past the limit: nothing to drop, no scan. */
	if (!p->at_temp && limit > p->max_key) {
		__atomic_fetch_add(&n_skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&n_passed, 1, __ATOMIC_RELAXED);
	real_methods.xTruncate(p->real, limit);
	if (limit <= p->temp_key)
		p->at_temp = false;
	if (limit > 0 && limit - 1 < p->max_key)
		p->max_key = limit - 1;
	else if (limit == 0)
		p->max_key = 0;
}

static void pc_destroy(sqlite3_pcache *c)
{
	struct pc *p = (struct pc *)c;

	real_methods.xDestroy(p->real);
	free(p);
}

static void pc_shrink(sqlite3_pcache *c)
{
	struct pc *p = (struct pc *)c;

	if (real_methods.xShrink)
		real_methods.xShrink(p->real);
}

static const sqlite3_pcache_methods2 pc_methods = {
	.iVersion = 1,
	.xInit = pc_init,
	.xShutdown = pc_shutdown,
	.xCreate = pc_create,
	.xCachesize = pc_cachesize,
	.xPagecount = pc_pagecount,
	.xFetch = pc_fetch,
	.xUnpin = pc_unpin,
	.xRekey = pc_rekey,
	.xTruncate = pc_truncate,
	.xDestroy = pc_destroy,
	.xShrink = pc_shrink,
};

int catalog_pcache_install(void)
{
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &real_methods) != SQLITE_OK ||
	    !real_methods.xCreate)
		return -EBUSY;
	if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &pc_methods) != SQLITE_OK) {
		real_methods = (sqlite3_pcache_methods2){0};
		return -EBUSY;
	}
	return 0;
}

const sqlite3_pcache_methods2 *catalog_pcache_methods(void)
{
	return real_methods.xCreate ? &pc_methods : NULL;
}

void catalog_pcache_counts(unsigned long long *ret_skipped, unsigned long long *ret_passed)
{
	*ret_skipped = __atomic_load_n(&n_skipped, __ATOMIC_RELAXED);
	*ret_passed = __atomic_load_n(&n_passed, __ATOMIC_RELAXED);
}
