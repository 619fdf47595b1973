package proto

import (
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestGoldenPythonMsgpack decodes every golden file with Python's msgpack
// library (raw=False, as other teams' clients do) and compares the result
// with proto's own decoding and with the fields the golden case expects.
func TestGoldenPythonMsgpack(t *testing.T) {
	requirePython(t, "msgpack")
	peer := startPython(t, 30*time.Second, "golden_check.py", goldenDir)
	decoded := peer.Next(20 * time.Second)
	peer.Finish(10 * time.Second)

	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			fromPython, ok := decoded[c.name+".msgpack"]
			if !ok {
				t.Fatalf("python did not decode %s", c.path())
			}
			frame, err := os.ReadFile(c.path())
			if err != nil {
				t.Fatal(err)
			}
			fromGo, err := DecodeValue(frame)
			if err != nil {
				t.Fatalf("DecodeValue: %v", err)
			}

			var want any = c.want
			if c.service != "" {
				want = map[string]any{"service": c.service, "data": c.want}
			}
			compareKeys(t, "", fromPython, canonical(want))
			if !reflect.DeepEqual(fromPython, canonical(fromGo)) {
				t.Errorf("python and proto disagree\npython %#v\nproto  %#v", fromPython, canonical(fromGo))
			}
			if !reflect.DeepEqual(fromPython, canonical(want)) {
				t.Errorf("python decoded\n%#v\nwant %#v", fromPython, canonical(want))
			}
		})
	}
}

// compareKeys reports, map by map, the keys one side has and the other
// lacks, so a misspelt key shows up by name.
func compareKeys(t *testing.T, path string, got, want any) {
	t.Helper()
	gotMap, gotIsMap := got.(map[string]any)
	wantMap, wantIsMap := want.(map[string]any)
	if gotIsMap != wantIsMap {
		t.Errorf("%s: got %T, want %T", path, got, want)
		return
	}
	if !gotIsMap {
		gotList, gotIsList := got.([]any)
		wantList, wantIsList := want.([]any)
		if gotIsList && wantIsList && len(gotList) == len(wantList) {
			for i := range gotList {
				compareKeys(t, path+"[]", gotList[i], wantList[i])
			}
		}
		return
	}
	gotKeys := slices.Sorted(maps.Keys(gotMap))
	wantKeys := slices.Sorted(maps.Keys(wantMap))
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("%s: keys %q, want %q", path, gotKeys, wantKeys)
	}
	for key, item := range gotMap {
		if wantItem, ok := wantMap[key]; ok {
			compareKeys(t, path+"."+key, item, wantItem)
		}
	}
}
