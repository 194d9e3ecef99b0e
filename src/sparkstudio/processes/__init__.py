"""Where user code runs: OS identities, sandboxes, network namespaces and their bridges.

In **sandbox** mode (the control plane is root and bubblewrap is installed), every process
that runs users' code — workspace servers and kernels, job and notebook runners, every
Spark process of a cluster or application — runs under an OS identity of its studio (or of
its user, for a workspace), in a sandbox where the control plane's home, its processes,
other studios and other workspaces do not exist, and in the studio's own network
namespace, which only reaches the platform through bridges the platform opens. In
**single-user** mode (no root, no bubblewrap) everything runs as the control plane's own
OS user: it is for one person on their own machine.
"""
