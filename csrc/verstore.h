/*
 * verstore.h -- the version store: the before images of committed writes
 * that an open transaction's snapshot may still need (ESE's version store).
 *
 * Commits are numbered 1, 2, ... per instance (esinst.commit_seq); a
 * transaction's snapshot is the number of the last commit before its
 * begin.  When commit c replaces, inserts or deletes the record of key k
 * in tree (dbid, root) while some transaction is open, the store keeps
 * (k, c, the record before c: a value or "absent").  The record of k as of
 * snapshot S is then the before image of the oldest version of k with
 * commit > S, or the committed tree's record when there is none.
 *
 * Invariants:
 * - one node per (dbid, root, key), in a skip list ordered by (dbid, root,
 *   key) (ws_keycmp on keys), so a seek costs O(log n) and never sorts;
 * - a node's versions are in commit order, oldest first, and a node has at
 *   least one version (trimming its last version unlinks it);
 * - every version is also on one list in commit order (oldest first) over
 *   the whole store, which makes vs_trim O(versions dropped * log n);
 * - bytes is the sum over nodes of VS_OVERHEAD + klen and over versions of
 *   VS_OVERHEAD + vlen.
 * Callers hold the instance lock (the store has no lock of its own).
 */
#ifndef ESE_VERSTORE_H
#define ESE_VERSTORE_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"

#define VS_OVERHEAD 64      /* bytes counted per node and per version besides key / value */
#define VS_MAXLEVEL 24

typedef struct vsversion {
  uint64_t commit;               /* the commit that replaced this image */
  struct vsnode *node;
  struct vsversion *next;        /* the node's next newer version */
  struct vsversion *gnext;       /* the store's next newer version */
  struct vsversion *gprev;       /* the store's next older version */
  int absent;                    /* the key had no record before the commit */
  uint32_t vlen;
  uint8_t *val;                  /* NULL when absent */
} vsversion;

typedef struct vsnode {
  uint32_t dbid, root, klen;
  uint8_t *key;
  vsversion *first, *last;       /* oldest, newest */
  int level;
  struct vsnode *next[];         /* level pointers */
} vsnode;

typedef struct verstore {
  vsnode *head;                  /* sentinel with VS_MAXLEVEL pointers */
  int level;                     /* levels in use */
  uint64_t rng;
  vsversion *oldest, *newest;    /* the store's commit-ordered list */
  size_t bytes;
  size_t nversions;
} verstore;

/* Versions of one commit, allocated before the commit applies anything and
 * linked at once by vs_link (which cannot fail). */
typedef struct vsbatch {
  vsversion **v;
  vsnode **fresh;                /* per version: a new node, or NULL when the key has one */
  size_t n, cap;
  size_t bytes;                  /* what vs_link adds to the store's bytes */
} vsbatch;

/* A zeroed verstore is an empty store: vs_batch_add allocates its head
 * (vs_init) the first time; vs_free frees everything and zeroes it again. */
JET_ERR vs_init(verstore *vs);
void vs_free(verstore *vs);
/* The node of the key, or NULL. */
vsnode *vs_find(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen);
/* The node of one tree found by op (one JET_bitSeek*; klen 0 as in
 * bt_seek), or NULL; any node, whatever its versions. */
vsnode *vs_seek(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen, JET_GRBIT op);
/* The version whose before image is the record as of snapshot snap: the
 * oldest with commit > snap, or NULL (the tree's record is the one). */
const vsversion *vs_as_of(const vsnode *n, uint64_t snap);
/* The newest commit that changed the node's key (0 for NULL). */
uint64_t vs_newest_commit(const vsnode *n);

void vs_batch_init(vsbatch *b);
/* Adds the before image of (dbid, root, key) to the batch; val NULL: the
 * key had no record.  A key at most once per batch. */
JET_ERR vs_batch_add(verstore *vs, vsbatch *b, uint32_t dbid, uint32_t root, const void *key, size_t klen,
                     const void *val, size_t vlen);
/* Links every version of the batch as commit c (higher than every commit
 * in the store) and empties the batch. */
void vs_link(verstore *vs, vsbatch *b, uint64_t c);
/* Frees what the batch holds that was not linked. */
void vs_batch_free(vsbatch *b);
/* Drops every version with commit <= oldest_needed (no open snapshot is
 * older than that commit). */
void vs_trim(verstore *vs, uint64_t oldest_needed);
/* The version of v's node just older than v, or NULL when v is its node's
 * first. */
const vsversion *vs_older(const vsversion *v);
/* Drops the linked version v, which is not its node's first (isolation.c:
 * when no open snapshot reads it). */
void vs_drop_version(verstore *vs, vsversion *v);
/* 1 when the store keeps a version of the database dbid (an open
 * snapshot may need it). */
int vs_has_db(const verstore *vs, uint32_t dbid);
/* Drops every version of the database dbid (detached: a database attached
 * later may get its dbid). */
void vs_drop_db(verstore *vs, uint32_t dbid);

#endif
