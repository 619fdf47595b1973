package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// finalStage returns the instructions of the Dockerfile's last stage after
// its FROM line, each with its continuation lines joined, without
// comments and blank lines.
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var instructions []string
	var current strings.Builder
	for line := range strings.SplitSeq(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		continued := strings.HasSuffix(line, `\`)
		current.WriteString(strings.TrimSpace(strings.TrimSuffix(line, `\`)))
		if continued {
			current.WriteString(" ")
			continue
		}
		instruction := current.String()
		current.Reset()
		if strings.HasPrefix(instruction, "FROM ") {
			instructions = nil
			continue
		}
		instructions = append(instructions, instruction)
	}
	return instructions
}

// TestDockerfilesBuildSameImage checks that the Dockerfile, which compiles
// msgsys, and docker/from-binary.Dockerfile, which copies a compiled
// binary, differ only in where the binary and /data come from.
func TestDockerfilesBuildSameImage(t *testing.T) {
	fromSource := finalStage(t, "Dockerfile")
	fromBinary := finalStage(t, "docker/from-binary.Dockerfile")
	sourceCopies := []string{
		"COPY --from=compile /out/msgsys /usr/local/bin/msgsys",
		"COPY --from=compile --chown=10001:10001 /out/data /data",
	}
	binaryCopies := []string{
		"COPY build/image/msgsys /usr/local/bin/msgsys",
		"COPY --chown=10001:10001 build/image/data /data",
	}
	for i, sourceCopy := range sourceCopies {
		if !slices.Contains(fromSource, sourceCopy) {
			t.Errorf("Dockerfile lacks %q", sourceCopy)
		}
		j := slices.Index(fromBinary, binaryCopies[i])
		if j < 0 {
			t.Errorf("docker/from-binary.Dockerfile lacks %q", binaryCopies[i])
			continue
		}
		// Give the binary's copy the source's words, so that the rest
		// compares line by line.
		fromBinary[j] = sourceCopy
	}
	if !slices.Equal(fromSource, fromBinary) {
		t.Errorf("the final stages differ beyond the copies of the binary and /data:\nDockerfile:\n  %s\ndocker/from-binary.Dockerfile:\n  %s",
			strings.Join(fromSource, "\n  "), strings.Join(fromBinary, "\n  "))
	}
}
