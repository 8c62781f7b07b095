def main():  # placeholder replaced by the spine's CLI
    raise SystemExit("cli not written yet")
