def test_smoke(kubectl):
    print(kubectl.run("version").stdout)
    print(kubectl.run("get", "ns").stdout)
    print(kubectl.run("api-resources").stdout)
