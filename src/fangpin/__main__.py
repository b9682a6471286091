from fangpin.cli import app

app()
