"""Purple's screens: the chat and the modal dialogs around it."""
