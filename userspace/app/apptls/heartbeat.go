package apptls

// heartbeat follows RFC 6520 heartbeats as Suricata does, to flag
// heartbleed (CVE-2014-0160): a clear request whose payload length runs
// past its record, and an encrypted response longer than its request.
type heartbeat struct {
	inflight bool
	toServer bool // the direction of the request in flight
	reqLen   int  // an encrypted request's record length
}

// clearHeartbeat checks a heartbeat seen before any ChangeCipherSpec,
// once its type and payload length are in d.hb.
func (c *Conn) clearHeartbeat(d *dir, toServer bool) {
	typ, payload := d.hb[0], int(d.hb[1])<<8|int(d.hb[2])
	if typ != 1 && typ != 2 {
		c.anomaly |= AnomalyInvalidHeartbeat
		return
	}
	switch {
	case !c.hb.inflight:
		c.hb = heartbeat{inflight: true, toServer: toServer}
		if payload+3 > d.recLen {
			c.anomaly |= AnomalyOverflowHeartbeat
		} else if d.recLen-payload-3 < 16 { // padding is at least 16 bytes
			c.anomaly |= AnomalyInvalidHeartbeat
		}
	case c.hb.toServer == toServer:
		c.anomaly |= AnomalyInvalidHeartbeat // several in flight from one side
	default:
		c.hb = heartbeat{}
	}
}

// encryptedHeartbeat compares an encrypted heartbeat's record length
// with its request's.
func (c *Conn) encryptedHeartbeat(toServer bool, n int) {
	switch {
	case !c.hb.inflight:
		c.hb = heartbeat{inflight: true, toServer: toServer, reqLen: n}
	case c.hb.toServer == toServer:
		c.anomaly |= AnomalyInvalidHeartbeat
	default:
		if c.hb.reqLen > 0 && c.hb.reqLen < n {
			c.anomaly |= AnomalyDataleakHeartbeat
		}
		c.hb = heartbeat{}
	}
}
