/*
 * rejoin.h - a fenced node rejoins the cluster (rejoin.c).
 */
#ifndef DRFSD_REJOIN_H
#define DRFSD_REJOIN_H

#include "daemon.h"

/*
 * Rejoin after fencing (the lease thread calls it, through
 * drfs_session_on_fenced, every second until it succeeds); @ctx is the
 * struct drfsd.
 */
void drfsd_rejoin(void *ctx);

#endif
