// Package features computes the flow features the learned detectors use:
// per flow and direction, packet and byte counts, packet length and
// inter-arrival statistics (Welford), TCP flag counts and windows, the
// handshake and the time to the first reply; per source and destination
// host, damped windows over several time scales (Kitsune's approach):
// new flows, distinct ports and peers, the share of failed connections,
// byte asymmetry. State is preallocated (a slab parallel to the flow
// table, a bounded host table): extraction allocates nothing.
package features
