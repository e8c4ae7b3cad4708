from monitor.cli import main

# Guarded: batch's worker processes (forkserver) import the main module again, as __mp_main__.
if __name__ == "__main__":
    main()
