package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// EnvironmentFile records, in a lake directory, the environment a local run ran it for, so that a
// later `kpilake kpi run` on the lake renders days in the same business time zone.
const EnvironmentFile = "_environment.json"

// LakeEnvironment is what EnvironmentFile holds.
type LakeEnvironment struct {
	Name     string `json:"environment"`
	TimeZone string `json:"time_zone"`
}

// writeLakeEnvironment records env in the lake, replacing what an earlier run recorded.
func writeLakeEnvironment(lake string, env LakeEnvironment) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(lake, "."+EnvironmentFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(lake, EnvironmentFile))
}

// ReadLakeEnvironment returns the environment a local run recorded in lake, and its business
// time zone; ok is false for a lake without one (made by an older version, or not by a local run).
func ReadLakeEnvironment(lake string) (env LakeEnvironment, loc *time.Location, ok bool, err error) {
	path := filepath.Join(lake, EnvironmentFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return LakeEnvironment{}, nil, false, nil
	}
	if err != nil {
		return LakeEnvironment{}, nil, false, err
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return LakeEnvironment{}, nil, false, fmt.Errorf("%s: %w; run `kpilake local run` on the lake again to rewrite it", path, err)
	}
	if loc, err = time.LoadLocation(env.TimeZone); err != nil || env.TimeZone == "" {
		return LakeEnvironment{}, nil, false, fmt.Errorf("%s: time zone %q is not an IANA time zone; run `kpilake local run` on the lake again to rewrite it", path, env.TimeZone)
	}
	return env, loc, true, nil
}
