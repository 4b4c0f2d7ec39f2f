/*
 * objversions - print every object of a RADOS namespace with its version
 * and size, one per line ("NAME VERSION SIZE"), in listing order.
 *
 *   objversions CEPH_CONF POOL NAMESPACE
 *
 * Every write to an object raises its version, so two listings that are
 * equal (after sorting) mean nothing was created, removed or changed in
 * between: the tests' "changed nothing" check, in one process instead of
 * a rados(8) call per object.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <rados/librados.h>

int main(int argc, char **argv)
{
	rados_t cluster;
	rados_ioctx_t io;
	rados_list_ctx_t lc;
	const char *oid, *key, *ns;
	int ret;

	if (argc != 4) {
		fprintf(stderr,
			"usage: objversions CEPH_CONF POOL NAMESPACE\n");
		return 2;
	}
	if (rados_create(&cluster, NULL) < 0 ||
	    rados_conf_read_file(cluster, argv[1]) < 0 ||
	    rados_connect(cluster) < 0) {
		fprintf(stderr, "objversions: cannot connect with %s\n",
			argv[1]);
		return 1;
	}
	ret = rados_ioctx_create(cluster, argv[2], &io);
	if (ret < 0) {
		fprintf(stderr, "objversions: pool %s: %s\n", argv[2],
			strerror(-ret));
		rados_shutdown(cluster);
		return 1;
	}
	rados_ioctx_set_namespace(io, argv[3]);
	ret = rados_nobjects_list_open(io, &lc);
	if (ret == 0) {
		while (ret == 0 &&
		       rados_nobjects_list_next(lc, &oid, &key, &ns) == 0) {
			rados_read_op_t op = rados_create_read_op();
			uint64_t size = 0;
			int prval = 0;

			rados_read_op_stat(op, &size, NULL, &prval);
			ret = rados_read_op_operate(op, io, oid, 0);
			rados_release_read_op(op);
			if (ret == -ENOENT) { /* removed while we listed */
				ret = 0;
				continue;
			}
			if (ret == 0)
				printf("%s %" PRIu64 " %" PRIu64 "\n", oid,
				       rados_get_last_version(io), size);
		}
		rados_nobjects_list_close(lc);
	}
	if (ret < 0)
		fprintf(stderr, "objversions: %s\n", strerror(-ret));
	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return ret < 0 ? 1 : 0;
}
