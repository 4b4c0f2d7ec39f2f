/*
 * ops.h - the FUSE low-level operations of the mount (ops.c).
 */
#ifndef DRFSD_OPS_H
#define DRFSD_OPS_H

#include "daemon.h"

extern const struct fuse_lowlevel_ops drfsd_ops;

#endif
