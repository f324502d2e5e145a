"""iommuvm testbed: N r650 or c6525 nodes on one experiment LAN.

Every node downloads the iommuvm bundle (scripts/bundle) from the URL you
give and installs it under /opt/iommuvm at every boot, so a node whose disk
was reloaded has it again. Then, from your machine or the controller node:

    iommuvm certs init --dir ca --controller-host 10.10.1.1
    iommuvm deploy --manifest manifest.xml --controller 10.10.1.1:7070 --tls_dir ca

deploy finds the bundle already there, writes each agent's certificate,
flags and systemd unit, starts the agents and waits until they register.

Instructions:
Copy the experiment's manifest (the "Manifest" tab) to manifest.xml and run
the two commands above. Node 0 (10.10.1.1) can run iommuvm-controller
(--listen 10.10.1.1:7070 --tls_dir ca); give it the server role or neither
with --servers/--clients.
"""

import geni.portal as portal
import geni.rspec.pg as pg

HARDWARE = [
    ("r650", "r650: 2 x Xeon Platinum 8360Y, ConnectX-6 Dx 100 GbE (Clemson)"),
    ("c6525-100g", "c6525-100g: 2 x EPYC 7402P, ConnectX-5 100 GbE (Utah)"),
    ("c6525-25g", "c6525-25g: EPYC 7302P, ConnectX-5 25 GbE (Utah)"),
]
IMAGES = [
    ("urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU22-64-STD", "Ubuntu 22.04"),
    ("urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU24-64-STD", "Ubuntu 24.04"),
    ("urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU20-64-STD", "Ubuntu 20.04"),
]

pc = portal.Context()
pc.defineParameter("node_count", "Number of nodes (servers and clients alternate)",
                   portal.ParameterType.INTEGER, 4)
pc.defineParameter("hardware", "Hardware type", portal.ParameterType.NODETYPE,
                   HARDWARE[0][0], legalValues=HARDWARE)
pc.defineParameter("image", "Disk image", portal.ParameterType.IMAGE, IMAGES[0][0],
                   legalValues=IMAGES)
pc.defineParameter("bundle_url", "URL of the iommuvm bundle (.tar.gz from scripts/bundle)",
                   portal.ParameterType.STRING, "")
pc.defineParameter("bundle_sha256", "SHA-256 of the bundle (sha256sum); empty: not checked",
                   portal.ParameterType.STRING, "", advanced=True)
params = pc.bindParameters()

if params.node_count < 2:
    pc.reportError(portal.ParameterError("At least two nodes: a server and a client.",
                                         ["node_count"]))
if params.node_count > 200:
    pc.reportError(portal.ParameterError("At most 200 nodes on one /24 LAN.", ["node_count"]))
if params.bundle_url and not params.bundle_url.startswith(("https://", "http://")):
    pc.reportError(portal.ParameterError("The bundle URL must be http(s).", ["bundle_url"]))
pc.verifyParameters()

request = pc.makeRequestRSpec()
lan = request.LAN("lan")
# Measurements need the link as it is: no shaping, the whole bandwidth.
lan.best_effort = False
lan.setNoBandwidthShaping()

for i in range(params.node_count):
    node = request.RawPC("node%d" % i)
    node.hardware_type = params.hardware
    node.disk_image = params.image
    iface = node.addInterface("if0")
    iface.addAddress(pg.IPv4Address("10.10.1.%d" % (i + 1), "255.255.255.0"))
    lan.addInterface(iface)
    if params.bundle_url:
        # Runs at every boot (a disk reload included); idempotent.
        node.addService(pg.Execute(
            shell="bash",
            command="sudo /local/repository/cloudlab/install-bundle '%s' '%s' "
                    ">> /var/log/iommuvm-install.log 2>&1"
                    % (params.bundle_url, params.bundle_sha256)))

pc.printRequestRSpec(request)
