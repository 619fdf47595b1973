package client

import "time"

// DefaultWaitNotice is how long the main loop waits for a reply before a
// terminal shows textWaiting.
const DefaultWaitNotice = 1500 * time.Millisecond

// On a terminal the printer shows a notice, such as "(waiting for the
// server's reply…)", once the main loop has read a line and printed
// nothing for a while. The loop then waits for a reply: it blocks on
// nothing else between reading a line and its next output. The notice
// stays on the line after the last output, without a line break, and
// the loop's next output or prompt erases it. A live message printed
// meanwhile goes above it.

// enableWaitNotice makes the printer show text once the main loop has
// been silent for after.
func (p *printer) enableWaitNotice(text string, after time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waitText, p.waitAfter = text, after
}

// busy starts the wait for the notice again, as the main loop works on
// the line it read. The caller holds p.mu.
func (p *printer) busy() {
	if p.waitText == "" || p.closed {
		return
	}
	p.stopWaitTimer()
	generation := p.waitGeneration
	p.waitTimer = time.AfterFunc(p.waitAfter, func() { p.showWaitNotice(generation) })
}

// idle stops the wait and erases the notice, as the main loop prompts or
// stops. The caller holds p.mu.
func (p *printer) idle() {
	p.stopWaitTimer()
	p.eraseWaitNotice()
}

// stopWaitTimer stops the timer, and makes a firing that already waits
// for p.mu show nothing. The caller holds p.mu.
func (p *printer) stopWaitTimer() {
	p.waitGeneration++
	if p.waitTimer != nil {
		p.waitTimer.Stop()
		p.waitTimer = nil
	}
}

// eraseWaitNotice erases the notice when it is shown. The caller holds
// p.mu.
func (p *printer) eraseWaitNotice() {
	if p.waitShown {
		p.write(clearLine)
		p.waitShown = false
	}
}

// showWaitNotice shows the notice, unless the timer of this generation
// was stopped or the loop prompts meanwhile.
func (p *printer) showWaitNotice(generation uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if generation != p.waitGeneration || p.closed || p.prompt != "" || p.waitShown {
		return
	}
	p.write(p.waitText)
	p.waitShown = true
}
