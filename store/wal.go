package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The write-ahead log makes a batch durable with one append and one
// fdatasync, where a bbolt commit costs two fdatasyncs and about nine page
// writes (docs/benchmarks.md). It holds every op the store ever logged, in
// the order the store logged them, so the bbolt file can be rebuilt from it.
// bbolt then runs with NoSync: a process that dies leaves its commits in the
// page cache, and a machine that crashed may have left the file torn, so
// Open rebuilds it (see openWAL and Open).
//
// The log is a directory of segment files named by their number. A record
// is the payload's length and CRC-32C, 4 bytes each, little-endian, then
// the payload: the origin as a uvarint length and its bytes, the seq as a
// uvarint, and the log record of codec.go.
const (
	walSegmentBytes = 64 << 20
	walHeaderBytes  = 8
	walMaxRecord    = 16 << 20 // far above any op the server accepts
	walOpenMarker   = "open"   // present while a process has the store open
	walSuffix       = ".seg"

	// walTornMaxBytes bounds the bytes that Open takes for a torn final
	// record. The largest op a client can write, 8192 bytes of text with
	// its names and request id, makes a record of about 9 KiB.
	walTornMaxBytes = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walPos is a place in the log: a segment and an offset in it.
type walPos struct {
	seg uint64
	off int64
}

func (p walPos) encode() []byte {
	buf := binary.BigEndian.AppendUint64(make([]byte, 0, 16), p.seg)
	return binary.BigEndian.AppendUint64(buf, uint64(p.off))
}

// before reports whether p comes before q in the log.
func (p walPos) before(q walPos) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

func decodeWALPos(v []byte) (walPos, error) {
	if len(v) != 16 {
		return walPos{}, fmt.Errorf("%w: log position of %d bytes", ErrCorrupt, len(v))
	}
	return walPos{seg: binary.BigEndian.Uint64(v), off: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

// wal appends to the last segment. Apply, the only writer, serialises
// appends; syncs come from any goroutine.
type wal struct {
	dir          string
	sync         bool
	buf          []byte
	segmentBytes int64 // size past which append starts a new segment

	mu      sync.Mutex // guards f, end and written against syncUpTo
	f       *os.File
	end     walPos
	written int64 // bytes appended by this process

	// cutBytes counts the bytes of a torn final record that opening the
	// log cut off, and damage lists the other bytes it cut and the
	// segments it found missing.
	cutBytes int64
	damage   []LogDamage

	// reserved is the size of the current segment file, which append
	// keeps ahead of end (see reserve).
	reserved  int64
	noReserve bool // the file system cannot reserve space

	// One sync runs at a time, and a segment is swapped only while none
	// runs. syncing, guarded by mu, is closed when the running sync ends
	// and is nil while none runs.
	syncing chan struct{}
	synced  atomic.Int64 // written as of the start of the last successful sync
	pace    syncPace     // chooses whether a sync keeps its processor

	// kick wakes the syncer after an append, so the sync runs while bbolt
	// commits the same batch. Closing stop ends the syncer, which then
	// closes stopped.
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	// every, when positive, is the period of the syncer's syncs, and an
	// append starts none (Options.SyncEvery).
	every time.Duration
	// failed, when set, hears of every failed sync. After one, Linux may
	// report the next sync of the same pages as a success although they
	// never reached the disk, so no later sync can be trusted.
	failed func(error)
}

// LogDamage is a place where Open found the write-ahead log damaged:
// bytes that were not whole records, other than a torn final record, or a
// missing segment. Open cut the bytes off and, when the bbolt file was
// whole, copied the ops of the file the log then lacked back into it
// (Recovery.Refilled). Ops that neither holds any more must come from
// other servers.
type LogDamage struct {
	Segment string // path of the segment file
	Missing bool   // the segment file does not exist, so Offset, Bytes and Copy are zero
	Offset  int64  // offset of the first record that failed its checksum
	Bytes   int64  // bytes cut from Offset on, up to the last byte that is not zero
	Copy    string // copy of the segment as it was before the cut
}

// openWAL opens the log in dir, creating it when missing, and positions it
// after the last whole record. A torn record at the end, left by a crash
// during an append, is cut off, and so are damaged records (checkSegments).
func openWAL(dir string, sync bool) (*wal, error) {
	return openLoggedWAL(dir, sync, Options{}, nil)
}

// openLoggedWAL is openWAL with the store's options (the logger for the
// log's events, the time the process last resumed from a stop, the period
// of background syncs, the size of segments) and the function that hears
// of failed syncs.
func openLoggedWAL(dir string, sync bool, opts Options, failed func(error)) (*wal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	segs, err := walSegments(dir)
	if err != nil {
		return nil, err
	}
	segmentBytes := opts.SegmentBytes
	if segmentBytes <= 0 {
		segmentBytes = walSegmentBytes
	}
	w := &wal{dir: dir, sync: sync, segmentBytes: segmentBytes, every: opts.SyncEvery, failed: failed, kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	w.pace.log, w.pace.resumed = opts.Log, opts.Resumed
	seg, end := uint64(1), int64(0)
	if len(segs) > 0 {
		seg = segs[len(segs)-1]
		if end, err = w.checkSegments(segs); err != nil {
			return nil, err
		}
	}
	if err := w.openSegment(seg, end); err != nil {
		return nil, err
	}
	go w.syncer()
	return w, nil
}

// checkSegments reads every record of segs, the log's segments in
// ascending order, and returns the offset after the last whole record of
// the last one, where openSegment cuts it. Each segment ends at its last
// whole record, or in the last one also in space reserved ahead (see
// reserve). Any bytes that follow are either a torn final record or
// damage. A torn record ends the last segment, and w.cutBytes counts it.
// Damage, anywhere else, is recorded in w.damage: a copy of the segment is
// kept, and a segment other than the last is cut at once. Missing segment
// numbers are recorded too.
//
// This reads the whole log at every Open, once, without decoding the ops.
func (w *wal) checkSegments(segs []uint64) (int64, error) {
	now := time.Now()
	for _, r := range missingSegments(segs) {
		for seg := r[0]; seg <= r[1]; seg++ {
			w.damage = append(w.damage, LogDamage{Segment: w.segPath(seg), Missing: true})
		}
	}
	var end int64
	for i, seg := range segs {
		path := w.segPath(seg)
		var err error
		if end, err = scanSegment(path, 0, nil); err != nil {
			return 0, err
		}
		cut, err := tailBytes(path, end)
		if err != nil {
			return 0, err
		}
		if cut == 0 {
			continue
		}
		last := i == len(segs)-1
		if last {
			torn, err := tornRecord(path, end, cut)
			if err != nil {
				return 0, err
			}
			if torn {
				w.cutBytes = cut
				continue
			}
		}
		copyPath, err := keepCopy(path, now)
		if err != nil {
			return 0, err
		}
		w.damage = append(w.damage, LogDamage{Segment: path, Offset: end, Bytes: cut, Copy: copyPath})
		if !last {
			if err := truncateSynced(path, end); err != nil {
				return 0, err
			}
		}
	}
	return end, nil
}

// tornRecord reports whether the cut bytes at off in the segment at path
// can be the record that an append left unfinished when the process or
// the machine died. Such a record is a part of a header, or fewer bytes
// than the record its header announces, and at most walTornMaxBytes. A
// record whose bytes are all there but whose checksum fails is damage,
// and so is anything after the announced record, such as records that a
// bad one hid.
func tornRecord(path string, off, cut int64) (bool, error) {
	if cut < walHeaderBytes {
		return true, nil
	}
	if cut > walTornMaxBytes {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	header := make([]byte, 4)
	if _, err := f.ReadAt(header, off); err != nil {
		return false, err
	}
	return cut < walHeaderBytes+int64(binary.LittleEndian.Uint32(header)), nil
}

// keepCopy copies the segment at path to path.damaged-TIME, with the time
// now in UTC, syncs the copy and returns its path.
func keepCopy(path string, now time.Time) (string, error) {
	name, err := unusedName(path, now)
	if err != nil {
		return "", err
	}
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if closeErr := dst.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return "", err
	}
	return name, syncDir(filepath.Dir(path))
}

// truncateSynced cuts the file at path to size bytes and syncs it.
func truncateSynced(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// tailBytes returns how many bytes after off, up to the last byte that is
// not zero, the segment at path holds: the torn record a crash during an
// append left, or garbage. Zeros are space reserved ahead (see reserve).
func tailBytes(path string, off int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	var last, pos int64
	for {
		b, err := r.ReadByte()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return 0, err
		}
		pos++
		if b != 0 {
			last = pos
		}
	}
}

// lazySyncEvery bounds how long appended records that no writer waits
// for stay unsynced.
const lazySyncEvery = 100 * time.Millisecond

// syncer syncs whatever was appended each time startSync kicks it, and
// every lazySyncEvery, or every w.every when that is set. Its syncs on
// the period block, so that the process goes on serving while they run.
// A failed sync goes to w.failed.
func (w *wal) syncer() {
	defer close(w.stopped)
	period := lazySyncEvery
	if w.every > 0 {
		period = w.every
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		background := true
		select {
		case <-w.stop:
			return
		case <-w.kick:
			background = false
		case <-ticker.C:
		}
		w.mu.Lock()
		written := w.written
		w.mu.Unlock()
		_ = w.syncTo(written, !background)
	}
}

func (w *wal) segPath(seg uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%016d%s", seg, walSuffix))
}

// openSegment opens seg for appending at off, cutting off what follows,
// and closes the previous segment. Callers other than openWAL hold syncMu.
func (w *wal) openSegment(seg uint64, off int64) error {
	f, err := os.OpenFile(w.segPath(seg), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(off); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		_ = f.Close()
		return err
	}
	w.mu.Lock()
	old := w.f
	w.f, w.end = f, walPos{seg: seg, off: off}
	w.mu.Unlock()
	w.reserved = off
	if old != nil {
		_ = old.Close()
	}
	return syncDir(w.dir)
}

// append writes ops as records with one write, starting a new segment when
// the current one is full. It does not sync.
func (w *wal) append(ops []Op) error {
	if w.end.off >= w.segmentBytes {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	buf := appendRecords(w.buf[:0], ops)
	w.buf = buf
	w.reserve(w.end.off + int64(len(buf)))
	n, err := w.f.Write(buf)
	w.mu.Lock()
	w.end.off += int64(n)
	w.written += int64(n)
	w.mu.Unlock()
	return err
}

// appendRecords appends ops to buf as log records and returns the
// extended buffer.
func appendRecords(buf []byte, ops []Op) []byte {
	for _, op := range ops {
		start := len(buf)
		buf = append(buf, make([]byte, walHeaderBytes)...)
		buf = appendString(buf, op.Origin)
		buf = binary.AppendUvarint(buf, op.Seq)
		buf = append(buf, encodeRecord(op)...)
		payload := buf[start+walHeaderBytes:]
		binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
		binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	}
	return buf
}

// walReserveBytes is how far ahead of the log's end the current segment
// file is allocated.
const walReserveBytes = 4 << 20

// reserve allocates the current segment file up to past need, in steps of
// walReserveBytes. A sync of appends that grow a file must also write the
// file's size to the file system's journal. Within allocated space it only
// writes the data, and a sync took about a fifth less time on ext4
// (BenchmarkWALSync, docs/benchmarks.md). The reserved space reads as
// zeros, which scanSegment takes for the end of the log. Where the file
// system cannot allocate ahead, appends grow the file instead.
func (w *wal) reserve(need int64) {
	if need <= w.reserved || w.noReserve {
		return
	}
	size := (need/walReserveBytes + 1) * walReserveBytes
	if err := allocate(w.f, w.reserved, size-w.reserved); err != nil {
		w.noReserve = true
		return
	}
	w.reserved = size
}

// startSync has the syncer sync what was appended so far without waiting
// for it.
func (w *wal) startSync() {
	if w.every > 0 {
		return // the syncer's period covers it
	}
	select {
	case w.kick <- struct{}{}:
	default: // a sync is already due
	}
}

// rotate syncs the full segment and starts the next one. It waits for a
// sync in progress, which holds the old segment open.
func (w *wal) rotate() error {
	w.claimSync(math.MaxInt64)
	defer w.releaseSync()
	if err := w.trimReserve(); err != nil {
		return err
	}
	if err := datasync(w.f, &w.pace, true); err != nil {
		return err
	}
	w.synced.Store(w.written)
	return w.openSegment(w.end.seg+1, 0)
}

// syncUpTo returns once the first upTo bytes appended are synced. Callers
// that arrive during a sync wait for it, and then either find their bytes
// synced or sync once for everyone that wrote since: group commit.
func (w *wal) syncUpTo(upTo int64) error {
	return w.syncTo(upTo, true)
}

// syncTo is syncUpTo. A sync that no writer waits for passes mayKeep
// false, so that it blocks in the kernel without holding the processor.
func (w *wal) syncTo(upTo int64, mayKeep bool) error {
	if w.synced.Load() >= upTo || !w.claimSync(upTo) {
		return nil
	}
	defer w.releaseSync()
	w.mu.Lock()
	f, written := w.f, w.written
	w.mu.Unlock()
	if w.sync {
		if err := datasync(f, &w.pace, mayKeep); err != nil {
			if w.failed != nil {
				w.failed(err)
			}
			return err
		}
	}
	w.synced.Store(written)
	return nil
}

// claimSync waits until no sync runs and claims the right to run the next
// one, unless the first upTo bytes are synced by then. A caller whose
// bytes a running sync covers returns as soon as it ends. Under a mutex
// it would wait for the next sync too, whenever the syncer took the mutex
// again first, and that cost about a sync's time per write.
func (w *wal) claimSync(upTo int64) bool {
	w.mu.Lock()
	for w.syncing != nil {
		done := w.syncing
		w.mu.Unlock()
		<-done
		if w.synced.Load() >= upTo {
			return false
		}
		w.mu.Lock()
	}
	w.syncing = make(chan struct{})
	w.mu.Unlock()
	return true
}

// releaseSync ends the sync that claimSync claimed and wakes its waiters.
func (w *wal) releaseSync() {
	w.mu.Lock()
	close(w.syncing)
	w.syncing = nil
	w.mu.Unlock()
}

// trimReserve gives back the space reserved past the log's end, so that a
// full or closed segment ends with its last record.
func (w *wal) trimReserve() error {
	if w.reserved <= w.end.off {
		return nil
	}
	if err := w.f.Truncate(w.end.off); err != nil {
		return err
	}
	w.reserved = w.end.off
	return nil
}

// flush makes every appended record durable.
func (w *wal) flush() error {
	w.mu.Lock()
	written := w.written
	w.mu.Unlock()
	return w.syncUpTo(written)
}

// close stops the syncer, syncs and closes the segment.
func (w *wal) close() error {
	close(w.stop)
	<-w.stopped
	err := w.trimReserve()
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		_ = w.f.Close()
		return err
	}
	return w.f.Close()
}

// replay calls fn with the ops logged from pos on, in batches of at most
// size, in log order.
func (w *wal) replay(from walPos, size int, fn func([]Op) error) error {
	segs, err := walSegments(w.dir)
	if err != nil {
		return err
	}
	var batch []Op
	emit := func(op Op) error {
		batch = append(batch, op)
		if len(batch) < size {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	for _, seg := range segs {
		if seg < from.seg {
			continue
		}
		off := int64(0)
		if seg == from.seg {
			off = from.off
		}
		if _, err := scanSegment(w.segPath(seg), off, emit); err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// scanSegment reads the records of one segment from off on, passing each op
// to fn when fn is set, and returns the offset after the last whole record.
func scanSegment(path string, off int64, fn func(Op) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	header := make([]byte, walHeaderBytes)
	var payload []byte
	for {
		if _, err := io.ReadFull(r, header); err != nil {
			return off, nil // the end, or a torn header
		}
		size := binary.LittleEndian.Uint32(header)
		if size == 0 || size > walMaxRecord {
			return off, nil
		}
		payload = slices.Grow(payload[:0], int(size))[:size]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(header[4:]) {
			return off, nil
		}
		if fn != nil {
			op, err := decodeWALRecord(payload)
			if err != nil {
				return off, fmt.Errorf("%s, record at offset %d: %w", path, off, err)
			}
			if err := fn(op); err != nil {
				return off, err
			}
		}
		off += walHeaderBytes + int64(size)
	}
}

func decodeWALRecord(payload []byte) (Op, error) {
	n, size := binary.Uvarint(payload)
	if size <= 0 || n > uint64(len(payload)-size) {
		return Op{}, fmt.Errorf("%w: log entry origin", ErrCorrupt)
	}
	origin := string(payload[size : size+int(n)])
	rest := payload[size+int(n):]
	seq, size := binary.Uvarint(rest)
	if size <= 0 {
		return Op{}, fmt.Errorf("%w: log entry seq", ErrCorrupt)
	}
	return decodeRecord(origin, seq, rest[size:])
}

// walSegments lists the segment numbers in dir in ascending order.
func walSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), walSuffix)
		if !ok {
			continue
		}
		if seg, err := strconv.ParseUint(name, 10, 64); err == nil {
			segs = append(segs, seg)
		}
	}
	slices.Sort(segs)
	return segs, nil
}

// The open marker records how the last process that had the store open
// ended. Without it the store was closed cleanly. With it, the process
// died; if the machine has not restarted since, its bbolt commits are in
// the page cache and the file is whole. If the machine restarted, or the
// boot id cannot be read, bbolt's unsynced pages may be lost in any order and
// the file is rebuilt from the log.

// Unclean reports whether the last process that opened the store at path
// for writing still has it open or died without closing it. A read-only
// copy made then may lack writes that the write-ahead log holds.
func Unclean(path string) bool {
	died, _, err := readOpenMarker(path + ".wal")
	return died || err != nil
}

// bootID identifies this run of the operating system, or is empty where it
// cannot be read.
func bootID() string {
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(id))
}

// readOpenMarker reports whether the marker exists and the boot it names.
func readOpenMarker(dir string) (bool, string, error) {
	data, err := os.ReadFile(filepath.Join(dir, walOpenMarker))
	if errors.Is(err, os.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	return true, strings.TrimSpace(string(data)), nil
}

func writeOpenMarker(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, walOpenMarker), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(bootID() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func removeOpenMarker(dir string) error {
	if err := os.Remove(filepath.Join(dir, walOpenMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the creation, removal or renaming of files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}
