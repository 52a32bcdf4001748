# Sourced by the pipeline's scripts (after they define die): checks that run before any work, so
# that a mistake in a command costs a message, not a half-written run.
#
#   need_writable_dir DIR HINT   create DIR if needed and prove it takes a file, or die naming HINT
#   hold_lock FILE WHO           hold an exclusive lock on FILE until the script exits, or die if
#                                another process holds it (two runs writing one directory at once)

need_writable_dir() {
  local dir=$1 hint=$2 probe
  # a real write, not `test -w`: permissions do not stop root, a full or read-only disk does
  if mkdir -p "$dir" 2>/dev/null && probe=$(mktemp "$dir/.write-test.XXXXXX" 2>/dev/null); then
    rm -f "$probe"
  else
    die "cannot write to $dir: $hint"
  fi
}

hold_lock() {
  local file=$1 who=$2
  command -v flock >/dev/null || return 0  # macOS has no flock(1): no guard there
  # the fd stays open, and so locked, until this script exits (children inherit it: a training
  # left running by a killed parent still counts as writing)
  local fd
  exec {fd}>>"$file" || die "cannot create the lock file $file: is its directory writable?"
  flock -n "$fd" || die "another $who is writing $(dirname "$file") right now (lock: $file); wait for it to finish, or write elsewhere"
}
