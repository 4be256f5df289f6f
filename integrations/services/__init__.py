"""Write services, named <entity>_<action>, keyword-only. Views, admin actions and tasks call
these; they hold the rules."""
