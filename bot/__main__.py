from bot.cli import main

if __name__ == "__main__":  # not when a process of ours starts (`bot.imports.reading`)
    raise SystemExit(main())
