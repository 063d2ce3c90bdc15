"""Start one autograde kernel as the class's grading account, not as root or the instructor.

``tfbook.py assignments autograde`` (as root, through the hub) runs nbgrader
with a kernelspec whose command is this script: it reads the connection file
that nbgrader wrote, gives a copy of it to the grading account, drops to that
account and becomes the ordinary IPython kernel.  The students' code then
runs as a user who can read the course's files but cannot change the
gradebook, the instructor's files or another class's.

Usage: python grader_kernel.py USER COURSE_FILES CONNECTION_FILE
(standard library only; copied beside the class's folder by ``hub/nbgrader.py``).
"""

import os
import pwd
import shutil
import sys
import tempfile


def main(user: str, course_files: str, connection_file: str) -> None:
    account = pwd.getpwnam(user)
    runtime = tempfile.mkdtemp(prefix="tfbook-grader-")
    own_copy = os.path.join(runtime, os.path.basename(connection_file))
    shutil.copyfile(connection_file, own_copy)
    for path in (runtime, own_copy):
        os.chown(path, account.pw_uid, account.pw_gid)
    os.initgroups(user, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    environment = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "PATH", "TF_CPP_MIN_LOG_LEVEL")}
    environment.update(HOME=account.pw_dir, USER=user, LOGNAME=user, PYTHONPATH=course_files,
                       JUPYTER_RUNTIME_DIR=runtime, MPLBACKEND="module://matplotlib_inline.backend_inline")
    os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", own_copy], environment)


if __name__ == "__main__":
    main(*sys.argv[1:4])
