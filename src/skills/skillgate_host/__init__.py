"""skillgate's Python side, used by ../host.py (standard library only).

A package with a name no skill file will take, because SKILLS_DIR is on sys.path too:
  wire          the protocol: every frame and line host.py writes and reads (JSON lines)
  config        HostConfig, the typed config host.py is started with
  site_paths    site-packages on sys.path for a host started with -S (no .pth code run)
  decorator     the `skill` decorator skill files may import
  log           the host's own warnings (a limit that could not be set), on stderr
  discovery     importing skill files, schemas from signatures
  ownership     which file a skill belongs to (its definition site, not its decorator's)
  isolation     discovery with each file imported in a child of its own (survives any file)
  skill_process what runs inside the forked skill process (limits, stdio, the call itself)
  reaper        killing a call's process group and its strays, collecting exit statuses
  call          one call as the supervisor tracks it (channel, process, output)
  spawner       forking skill processes, and the warm host's spare forked ahead of its call
  zygote        the warm host's child that forks its spares, so the host itself never forks
  supervisor    the single-threaded event loop that runs calls (warm host and cold call alike)
  confinement, landlock, cgroup   the sandbox: Landlock domains and per-call cgroups
  seccomp       clone3 refused to skill code (no child born in another cgroup)
"""
