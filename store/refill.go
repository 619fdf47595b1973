package store

import "os"

// walFillSuffix ends the name of a segment that refillWAL writes for a
// missing segment number. walSegments ignores the file until refillWAL
// renames it to the segment's name.
const walFillSuffix = walSuffix + ".fill"

// refillWAL copies into the log the ops of the file that a rebuild from
// the log would lack, so that the log again contains every op of the file.
// The caller has a whole file that contains every op of the log.
//
// A rebuild reads the segments in number order, and an op extends its
// origin only when its seq is the next one. Each run of missing segment
// numbers therefore gets new segments, all empty but the last. Per origin,
// the last contains the ops from the seq a rebuild stops at up to the one
// before the first seq of a later segment (writeFills). The log then has
// every segment number, so checkLogComplete accepts it and checkSegments
// reports nothing missing, and no op of a later segment is copied. The ops after the seq where a rebuild still stops, as after
// records cut from a present segment, are appended to the log. Replay
// sorts each batch, so a rebuild skips those it already has as duplicates.
//
// The new segments get their names only once the appended ops are synced.
// A process that dies before leaves the numbers missing, and the next Open
// refills the log again.
func (s *Store) refillWAL() error {
	segs, err := walSegments(s.wal.dir)
	if err != nil {
		return err
	}
	firsts, err := s.firstSeqs(segs)
	if err != nil {
		return err
	}
	version := s.VersionVector()
	runs := missingSegments(segs)
	reach := make(map[string]uint64) // per origin, the seq a rebuild reaches at least
	var fills []uint64
	for i, seg := range segs {
		for len(runs) > 0 && runs[0][1] < seg {
			n, err := s.writeFills(runs[0], reach, version, firsts[i:])
			if err != nil {
				return err
			}
			s.recovered.Refilled += n
			for fill := runs[0][0]; fill <= runs[0][1]; fill++ {
				fills = append(fills, fill)
			}
			runs = runs[1:]
		}
		_, err := scanSegment(s.wal.segPath(seg), 0, func(op Op) error {
			if op.Seq == reach[op.Origin]+1 {
				reach[op.Origin] = op.Seq
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	appended, err := s.copyToLog(reach)
	s.recovered.Refilled += appended
	if err != nil {
		return err
	}
	for _, seg := range fills {
		path := s.wal.segPath(seg)
		if err := os.Rename(path+walFillSuffix, path); err != nil {
			return err
		}
	}
	return syncDir(s.wal.dir)
}

// firstSeqs returns, for each of segs, the seq of the first op of each
// origin in it.
func (s *Store) firstSeqs(segs []uint64) ([]map[string]uint64, error) {
	firsts := make([]map[string]uint64, len(segs))
	for i, seg := range segs {
		first := make(map[string]uint64)
		_, err := scanSegment(s.wal.segPath(seg), 0, func(op Op) error {
			if _, ok := first[op.Origin]; !ok {
				first[op.Origin] = op.Seq
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		firsts[i] = first
	}
	return firsts, nil
}

// writeFills writes a synced file with the fill suffix for each number
// of the run of missing segments [first, last]. The file of last contains,
// per origin, the ops of the file after the seq in reach. They end before
// the first seq of the origin in the later segments (firsts, in log
// order), or at its seq in version when no later segment contains one.
// The other files are empty. writeFills moves reach past the ops it wrote
// and returns their number.
func (s *Store) writeFills(run [2]uint64, reach, version map[string]uint64, firsts []map[string]uint64) (int, error) {
	for seg := run[0]; seg < run[1]; seg++ {
		if err := writeSynced(s.wal.segPath(seg)+walFillSuffix, nil); err != nil {
			return 0, err
		}
	}

	f, err := os.OpenFile(s.wal.segPath(run[1])+walFillSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	written := 0
	var buf []byte
	for origin, last := range version {
		for _, first := range firsts {
			if seq, ok := first[origin]; ok {
				last = min(last, seq-1)
				break
			}
		}
		for reach[origin] < last {
			ops, err := s.OpsAfter(origin, reach[origin], min(1000, int(last-reach[origin])), 0)
			if err != nil {
				_ = f.Close()
				return written, err
			}
			if len(ops) == 0 {
				break // the file contains no more ops of origin
			}
			buf = appendRecords(buf[:0], ops)
			if _, err := f.Write(buf); err != nil {
				_ = f.Close()
				return written, err
			}
			written += len(ops)
			reach[origin] = ops[len(ops)-1].Seq
		}
	}
	err = f.Sync()
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return written, err
}

// writeSynced writes data to a new or truncated file at path and syncs
// the file, but not its directory.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}
