from jaxloss.cli import main

raise SystemExit(main())
