"""Seed the local real OpenStack so that it looks like openstacktest's fresh cloud.

Run by realstack.sh with Debian's /usr/bin/python3:

    seed.py identity    service project and users, demo project and user,
                        roles, the catalog (Keystone must answer)
    seed.py resources   external network "public" with its subnet, flavors
                        m1.*, the image, volume type lvmdriver-1, quotas
                        (every API must answer)

Passwords come from the environment (ADMIN_PW, DEMO_PW, SERVICE_PW) and are
never printed. Every step finds before it creates, so a second run changes
nothing.
"""

import os
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

HOST = os.environ.get("REALSTACK_HOST", "127.0.0.1")
KEYSTONE = "http://%s:5000/v3" % HOST
REGION = "RegionOne"

# What openstacktest's fixtures.go has.
MEMBER_PROJECT = "demo"
MEMBER_USER = "demo"
MEMBER_ROLES = ("member", "load-balancer_member")
# More member projects, each with a user of its name (password DEMO_PW), so
# that test packages can run side by side, each in a project of its own.
LANE_PROJECTS = ("demo-2", "demo-3")
EXTERNAL_NETWORK = "public"
EXTERNAL_CIDR = "127.42.0.0/24"
IMAGE_NAME = "ubuntu-24.04"
FLAVORS = (  # id, name, vcpus, ram MiB, disk GiB
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
)

# service type, name, URL, user
SERVICES = (
    ("image", "glance", "http://%s:9292" % HOST, "glance"),
    ("placement", "placement", "http://%s:8778" % HOST, "placement"),
    ("compute", "nova", "http://%s:8774/v2.1" % HOST, "nova"),
    ("network", "neutron", "http://%s:9696" % HOST, "neutron"),
    ("load-balancer", "octavia", "http://%s:9876" % HOST, "octavia"),
    ("volumev3", "cinderv3", "http://%s:8776/v3/%%(project_id)s" % HOST, "cinder"),
)
# Cinder: the simulator's second volume type (besides __DEFAULT__, which
# Cinder's schema sync makes) and Cinder's default quotas, which the
# simulator has.
VOLUME_TYPE = "lvmdriver-1"
VOLUME_QUOTAS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000}


def log(msg):
    print("seed: " + msg, flush=True)


def admin_session():
    auth = v3.Password(auth_url=KEYSTONE, username="admin",
                       password=os.environ["ADMIN_PW"],
                       user_domain_name="Default", project_name="admin",
                       project_domain_name="Default")
    return ks_session.Session(auth=auth)


class API:
    """Raw REST calls against one endpoint, admin token."""

    def __init__(self, sess, base):
        self.s = sess
        self.base = base

    def get(self, path, **kw):
        return self.s.get(self.base + path, **kw).json()

    def post(self, path, body, **kw):
        r = self.s.post(self.base + path, json=body, **kw)
        return r.json() if r.content else {}

    def put(self, path, body=None, **kw):
        r = self.s.put(self.base + path, json=body, **kw)
        return r.json() if r.content else {}


def one(items, what):
    if len(items) > 1:
        raise SystemExit("seed: more than one %s" % what)
    return items[0] if items else None


def password_works(name, password):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}}
    r = ks_session.Session().post(KEYSTONE + "/auth/tokens", json=body, raise_exc=False)
    return r.status_code == 201


def seed_identity(sess):
    ks = API(sess, KEYSTONE)

    def project(name):
        p = one(ks.get("/projects", params={"name": name})["projects"], "project " + name)
        if p is None:
            log("create project " + name)
            p = ks.post("/projects", {"project": {"name": name, "domain_id": "default"}})["project"]
        return p["id"]

    def role(name):
        r = one(ks.get("/roles", params={"name": name})["roles"], "role " + name)
        if r is None:
            log("create role " + name)
            r = ks.post("/roles", {"role": {"name": name}})["role"]
        return r["id"]

    def user(name, password, project_id):
        u = one(ks.get("/users", params={"name": name, "domain_id": "default"})["users"], "user " + name)
        if u is None:
            log("create user " + name)
            u = ks.post("/users", {"user": {"name": name, "password": password, "domain_id": "default",
                                            "default_project_id": project_id}})["user"]
        elif not password_works(name, password):
            # The secrets file may be new while the database is not. (A
            # password change revokes the user's tokens: never the admin's.)
            log("reset password of " + name)
            ks.s.patch(KEYSTONE + "/users/" + u["id"], json={"user": {"password": password}})
        return u["id"]

    def grant(project_id, user_id, role_id):
        ks.put("/projects/%s/users/%s/roles/%s" % (project_id, user_id, role_id))

    admin_role = role("admin")
    # "service": Cinder lets only a service token (Nova's, with this role)
    # delete an attachment that Nova still uses.
    service_role = role("service")
    for r in ("member", "reader", "load-balancer_member", "load-balancer_admin",
              "load-balancer_observer", "load-balancer_global_observer"):
        role(r)
    service = project("service")
    for _, _, _, name in SERVICES:
        uid = user(name, os.environ["SERVICE_PW"], service)
        grant(service, uid, admin_role)
        grant(service, uid, service_role)

    for pname, uname in [(MEMBER_PROJECT, MEMBER_USER)] + [(n, n) for n in LANE_PROJECTS]:
        pid = project(pname)
        uid = user(uname, os.environ["DEMO_PW"], pid)
        for r in MEMBER_ROLES:
            grant(pid, uid, role(r))

    for stype, name, url, _ in SERVICES:
        svc = one([s for s in ks.get("/services")["services"] if s["type"] == stype], "service " + stype)
        if svc is None:
            log("create service " + stype)
            svc = ks.post("/services", {"service": {"type": stype, "name": name, "enabled": True}})["service"]
        have = {e["interface"]: e for e in ks.get("/endpoints", params={"service_id": svc["id"]})["endpoints"]}
        for iface in ("public", "internal", "admin"):
            e = have.get(iface)
            if e is None:
                ks.post("/endpoints", {"endpoint": {"service_id": svc["id"], "interface": iface,
                                                    "url": url, "region_id": REGION}})
            elif e["url"] != url:
                ks.s.patch(KEYSTONE + "/endpoints/" + e["id"], json={"endpoint": {"url": url}})


def seed_resources(sess):
    ks = API(sess, KEYSTONE)
    net = API(sess, "http://%s:9696/v2.0" % HOST)
    nova = API(sess, "http://%s:8774/v2.1" % HOST)
    glance = API(sess, "http://%s:9292/v2" % HOST)
    demo = one(ks.get("/projects", params={"name": MEMBER_PROJECT})["projects"], "demo project")["id"]

    n = one(net.get("/networks", params={"name": EXTERNAL_NETWORK})["networks"], "network public")
    if n is None:
        log("create network " + EXTERNAL_NETWORK)
        n = net.post("/networks", {"network": {
            "name": EXTERNAL_NETWORK, "router:external": True, "shared": False,
            "provider:network_type": "flat", "provider:physical_network": "public"}})["network"]
    if not n["subnets"]:
        log("create subnet public-subnet")
        net.post("/subnets", {"subnet": {
            "name": "public-subnet", "network_id": n["id"], "ip_version": 4, "cidr": EXTERNAL_CIDR,
            "gateway_ip": "127.42.0.1", "enable_dhcp": False,
            "allocation_pools": [{"start": "127.42.0.2", "end": "127.42.0.254"}]}})

    have = {f["name"] for f in nova.get("/flavors", params={"is_public": "None"})["flavors"]}
    for fid, name, vcpus, ram, disk in FLAVORS:
        if name not in have:
            log("create flavor " + name)
            nova.post("/flavors", {"flavor": {"id": fid, "name": name, "vcpus": vcpus, "ram": ram,
                                              "disk": disk, "os-flavor-access:is_public": True}})

    img = one(glance.get("/images", params={"name": IMAGE_NAME})["images"], "image " + IMAGE_NAME)
    if img is not None and img["status"] != "active":
        sess.delete("http://%s:9292/v2/images/%s" % (HOST, img["id"]))
        img = None
    if img is None:
        log("create image " + IMAGE_NAME)
        img = glance.post("/images", {"name": IMAGE_NAME, "disk_format": "raw", "container_format": "bare",
                                      "visibility": "public", "os_distro": "ubuntu", "os_version": "24.04"})
        sess.put("http://%s:9292/v2/images/%s/file" % (HOST, img["id"]), data=b"\0" * (1 << 20),
                 headers={"Content-Type": "application/octet-stream"})

    # Nova's quotas come from nova.conf, Neutron's from neutron.conf; the
    # member project gets the same explicitly so that a test that lowers and
    # restores them starts from known values.
    members = [demo] + [one(ks.get("/projects", params={"name": n})["projects"], n + " project")["id"]
                        for n in LANE_PROJECTS]
    for pid in members:
        net.put("/quotas/" + pid, {"quota": {"network": 200, "subnet": 200, "port": 2000, "router": 100,
                                             "floatingip": 500, "security_group": 200,
                                             "security_group_rule": 2000}})
    seed_cinder(sess, members)


def seed_cinder(sess, members):
    cinder = API(sess, "http://%s:8776/v3/%s" % (HOST, sess.get_project_id()))
    types = cinder.get("/types", params={"is_public": "None"})["volume_types"]
    if not any(t["name"] == VOLUME_TYPE for t in types):
        log("create volume type " + VOLUME_TYPE)
        cinder.post("/types", {"volume_type": {
            "name": VOLUME_TYPE, "os-volume-type-access:is_public": True,
            "extra_specs": {"volume_backend_name": VOLUME_TYPE}}})
    for pid in members:
        cinder.put("/os-quota-sets/" + pid, {"quota_set": VOLUME_QUOTAS})


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("identity", "resources"):
        raise SystemExit("usage: seed.py identity|resources")
    sess = admin_session()
    if sys.argv[1] == "identity":
        seed_identity(sess)
    else:
        seed_resources(sess)
    log(sys.argv[1] + " done")


if __name__ == "__main__":
    main()
