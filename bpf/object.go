package bpf

// XdpidsObject returns the compiled XDP object bpf2go embeds (the bytes of
// xdpids_bpfel.o), for `xdpids version` and xdpids_build_info to hash.
func XdpidsObject() []byte { return _XdpidsBytes }
