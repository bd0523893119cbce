package dbsvc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// templateMaxAge is how long a template serves before the next start makes it anew: well inside
// the days after which a /tmp cleaner (systemd-tmpfiles: 10) may delete some of its files.
const templateMaxAge = 24 * time.Hour

// completeMark is the file that a template holds once its initialization has finished.
const completeMark = "kpilake-template-complete"

// initDataDir puts a freshly initialized data directory at data (which must not exist), owned
// as the server expects it: a copy of a template that init made for the same program and
// arguments. Initializing (initdb, mariadb-install-db) costs about a second of CPU, a copy a
// fraction of that; every test binary of a run starts one or more servers. The template lives in
// the system's temporary directory, named by a hash of program, its size and time, and args, so
// an upgraded server or other arguments get a template of their own. init initializes the
// directory it is given, which does not exist yet, inside a parent that the server's user owns.
//
// Two processes that find no template each make one; the first to rename its own into place
// wins, the other copies the winner's. A template older than templateMaxAge, or one whose
// initialization did not finish, is made again.
func initDataDir(kind, program string, args []string, data string, chown func(dir string) error, init func(dir string) error) error {
	key, err := templateKey(program, args)
	if err != nil {
		return err
	}
	tmpl := filepath.Join(os.TempDir(), fmt.Sprintf("kpilake-%s-template-%s", kind, key))
	if !templateFresh(tmpl) {
		if err := makeTemplate(kind, tmpl, chown, init); err != nil {
			return err
		}
	}
	// cp -a keeps owners and modes, which PostgreSQL checks (0700, its user's). A copy can fail
	// only when another process replaced a template that went stale during it: initialize then.
	if out, err := exec.Command("cp", "-a", filepath.Join(tmpl, "data"), data).CombinedOutput(); err != nil {
		if rerr := os.RemoveAll(data); rerr != nil {
			return fmt.Errorf("copy the %s template %s to %s: %w\n%s", kind, tmpl, data, err, out)
		}
		return init(data)
	}
	return nil
}

// templateKey names a template by the program that initializes it and its arguments.
func templateKey(program string, args []string) (string, error) {
	resolved, err := filepath.EvalSymlinks(program)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(resolved)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", resolved, st.Size(), st.ModTime().UnixNano(), strings.Join(args, "\x00"))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// templateFresh says whether tmpl is a finished template younger than templateMaxAge.
func templateFresh(tmpl string) bool {
	st, err := os.Stat(filepath.Join(tmpl, completeMark))
	return err == nil && time.Since(st.ModTime()) < templateMaxAge
}

// makeTemplate initializes a template in a directory of its own and renames it to tmpl,
// replacing a stale one.
func makeTemplate(kind, tmpl string, chown func(dir string) error, init func(dir string) error) error {
	sweep(kind)
	staging, err := os.MkdirTemp(os.TempDir(), fmt.Sprintf("kpilake-%s-staging-", kind))
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging) // a no-op once renamed
	if err := chown(staging); err != nil {
		return err
	}
	if err := init(filepath.Join(staging, "data")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(staging, completeMark), nil, 0o644); err != nil {
		return err
	}
	if templateFresh(tmpl) { // another process made it meanwhile
		return nil
	}
	if _, err := os.Stat(tmpl); err == nil { // stale or unfinished: out of the way first
		old := tmpl + ".old-" + filepath.Base(staging)
		if err := os.Rename(tmpl, old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replace the %s template: %w", kind, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(staging, tmpl); err != nil && !templateFresh(tmpl) {
		return fmt.Errorf("install the %s template: %w", kind, err)
	}
	return nil
}

// sweep removes, once they are older than templateMaxAge, what a process killed while it made a
// template leaves behind (its staging directory, a template it had moved aside) and the templates
// of programs or arguments no longer used, which nothing else removes. A template still in use is
// fresh: its mark is younger than that.
func sweep(kind string) {
	for _, pattern := range []string{"kpilake-" + kind + "-staging-*", "kpilake-" + kind + "-template-*"} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
		for _, d := range dirs {
			st, err := os.Stat(d)
			if err != nil || time.Since(st.ModTime()) < templateMaxAge || templateFresh(d) {
				continue
			}
			_ = os.RemoveAll(d)
		}
	}
}
