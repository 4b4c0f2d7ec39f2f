/*
 * blkv1 - rewrite the block records of data objects in the first format
 * (one XXH3-64 per 64 KiB block), as a datarootfs before per-piece
 * checksums stored them: the tests' old data.
 *
 *   blkv1 CEPH_CONF POOL NAMESPACE OID...
 *
 * Each record is checked against the bytes first (a record that does not
 * match them is left alone and reported: exit 1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rados/librados.h>

#include "codec.h"

#define BLOCK (DRFS_PIECE * DRFS_PIECES)

static int one(rados_ioctx_t io, const char *oid)
{
	rados_omap_iter_t it;
	rados_read_op_t op = rados_create_read_op();
	char keys[64][16], vals[64][DRFS_BLOCK_V1_LEN];
	const char *kp[64], *vp[64];
	size_t kl[64], vl[64];
	unsigned char more = 0;
	int prval = 0, ret, n = 0;
	char *k, *v;
	size_t klen, vlen;
	static char data[BLOCK];

	rados_read_op_omap_get_vals2(op, "", "b.", 64, &it, &more, &prval);
	ret = rados_read_op_operate(op, io, oid, 0);
	rados_release_read_op(op);
	if (ret < 0)
		return ret;
	while (rados_omap_get_next2(it, &k, &v, &klen, &vlen) == 0 && k) {
		struct drfs_block b;
		unsigned long blk = strtoul(k + 2, NULL, 16);
		uint32_t got;

		if (drfs_block_decode(v, vlen, &b) < 0 || b.v1) {
			fprintf(stderr, "blkv1: %s %s: not a v2 record\n", oid,
				k);
			ret = -EIO;
			break;
		}
		ret = rados_read(io, oid, data, b.len, (uint64_t)blk * BLOCK);
		if (ret < 0)
			break;
		got = (uint32_t)ret;
		if (drfs_block_check(&b, data, 0, got, 0, b.len) < 0) {
			fprintf(stderr, "blkv1: %s %s: bytes do not match\n",
				oid, k);
			ret = -EIO;
			break;
		}
		b.hash = drfs_hash(data, b.len);
		snprintf(keys[n], sizeof(keys[n]), "%.*s", (int)klen, k);
		drfs_block_encode_v1(&b, vals[n]);
		kp[n] = keys[n];
		vp[n] = vals[n];
		kl[n] = strlen(keys[n]);
		vl[n] = DRFS_BLOCK_V1_LEN;
		n++;
		ret = 0;
	}
	rados_omap_get_end(it);
	if (ret == 0 && n) {
		rados_write_op_t w = rados_create_write_op();

		rados_write_op_omap_set2(w, kp, vp, kl, vl, (size_t)n);
		ret = rados_write_op_operate(w, io, oid, NULL, 0);
		rados_release_write_op(w);
	}
	if (ret == 0)
		printf("%s %d\n", oid, n);
	return ret;
}

int main(int argc, char **argv)
{
	rados_t cluster;
	rados_ioctx_t io;
	int ret = 0;

	if (argc < 5) {
		fprintf(stderr,
			"usage: blkv1 CEPH_CONF POOL NAMESPACE OID...\n");
		return 2;
	}
	if (rados_create(&cluster, NULL) < 0 ||
	    rados_conf_read_file(cluster, argv[1]) < 0 ||
	    rados_connect(cluster) < 0) {
		fprintf(stderr, "blkv1: cannot connect with %s\n", argv[1]);
		return 1;
	}
	if (rados_ioctx_create(cluster, argv[2], &io) < 0) {
		fprintf(stderr, "blkv1: no pool %s\n", argv[2]);
		rados_shutdown(cluster);
		return 1;
	}
	rados_ioctx_set_namespace(io, argv[3]);
	for (int i = 4; i < argc && ret == 0; i++) {
		ret = one(io, argv[i]);
		if (ret < 0)
			fprintf(stderr, "blkv1: %s: %s\n", argv[i],
				strerror(-ret));
	}
	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return ret < 0 ? 1 : 0;
}
