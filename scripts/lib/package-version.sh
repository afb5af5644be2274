# Shared by scripts/package and scripts/package-check (sourced): the package's version for a commit.
# The caller is in the repository.
#
# The code carries no version of its own: a tag vX.Y.Z gives X.Y.Z (plus +gitN.gHASH past it, N the
# commits since the tag), otherwise 0.0+gitDATE.COUNT.HASH, which sorts below any tagged release. Either
# way a commit's version sorts above its parent's, so apt takes the next commit's package as an upgrade:
# COUNT is the number of commits the commit has in its history (`git rev-list --count`, one more than
# its parent's on a line of history; a clone needs the full history, as CI's `git clone` has), and it
# comes before the hash, which orders nothing (0.0~git20261205.98a2ded sorted below its parent
# 0.0~git20261205.b82b4bc). DATE (UTC) is the newest commit date in that history, so it never goes
# back along it even when a committer's clock did. `+` rather than the earlier `~`: every version of the
# earlier 0.0~gitDATE.HASH scheme sorts below these (a same-day 0.0~git20261205.b82b4bc sorted above
# 0.0~git20261205.342.b08ceb9: a letter beats a number). -1: the Debian revision.

# package_version COMMIT: prints the Debian version of COMMIT.
package_version() {
    local commit=$1 described newest
    if described=$(git describe --tags --match 'v[0-9]*' --abbrev=7 "$commit" 2>/dev/null); then
        printf '%s-1\n' "$(printf '%s' "${described#v}" | sed -E 's/-([0-9]+)-(g[0-9a-f]+)$/+git\1.\2/')"
    else
        newest=$(git log --format=%ct "$commit" | sort -n | tail -1)
        printf '0.0+git%s.%s.%s-1\n' "$(TZ=UTC date -d "@$newest" +%Y%m%d)" \
            "$(git rev-list --count "$commit")" "$(git rev-parse --short=7 "$commit")"
    fi
}
