/*
 * coherence.h - the kernel side of the coherent metadata cache
 * (coherence.c).
 */
#ifndef DRFSD_COHERENCE_H
#define DRFSD_COHERENCE_H

#include "daemon.h"

/*
 * Start after the session (drfs_session_start), stop before it.  probe:
 * once, from the first request (the kernel takes notifications only
 * then).  ticket/timeout: take a ticket when a request starts; the entry
 * or attribute timeout to give its reply is md_timeout if this node
 * trusts its cache and heard of no change from another node since the
 * ticket, else 0.  dir_seen: the kernel was given directory @ino.  dgen:
 * the data generation of @ino (open keeps pages only if unchanged since
 * the last open); data_changed: bump it.  rejoined: after a rejoin
 * (rejoin.c), as after a lost watch, the entries and pages the kernel
 * cached are dropped.
 */
int drfsd_coh_start(struct drfsd *d, int timeout_ms);
void drfsd_coh_stop(struct drfsd *d);
void drfsd_coh_probe(struct drfsd *d);
uint64_t drfsd_coh_ticket(struct drfsd *d);
double drfsd_coh_timeout(struct drfsd *d, uint64_t ticket, bool entry);
void drfsd_coh_dir_seen(struct drfsd *d, uint64_t ino);
uint64_t drfsd_coh_dgen(struct drfsd *d, uint64_t ino);
void drfsd_coh_data_changed(struct drfsd *d, uint64_t ino);
void drfsd_coh_rejoined(struct drfsd *d);

#endif
