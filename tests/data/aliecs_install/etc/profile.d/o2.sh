# Stand-in for an FLP's /etc/profile.d/o2.sh: puts the O2 programs of this tree on PATH.
# (The ControlWorkflows templates `source /etc/profile.d/o2.sh` when modulepath is empty.)
O2_INSTALL_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$O2_INSTALL_PATH/bin:$PATH"
