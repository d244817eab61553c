# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_notification_rule) do
  @doc = <<~DOC
    One of your own notification rules (the token's user owns it; nobody can manage another
    user's rules, not even staff). Rules form an ordered list per user; the first enabled rule
    that matches a notification decides whether it is sent (notify) or dropped (suppress).

    The title is the rule's comment, which identifies it among your rules (the resource fails
    when several of your rules have it). Only the properties you set are managed; a new rule
    gets the portal's defaults (empty lists match anything, the whole day). `position` moves
    the rule first or last in your list; left out, a new rule goes last and an existing one
    stays where it is. Rules you do not declare are left alone.

    A rule change deploys no Naemon config: each node's preferences snapshot is rewritten
    within seconds, so there is no `wait`.

        monitoring_notification_rule { 'quiet nights':
          action   => 'suppress',
          channels => ['sms'],
          states   => ['WARNING'],
          start    => '22:00',
          end      => '07:00',
          position => 'first',
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:comment, namevar: true) do
    desc 'The rule\'s comment: it identifies the rule among yours.'
    validate { |value| raise ArgumentError, 'the comment must not be empty: it identifies the rule' if value.to_s.strip.empty? }
  end

  newparam(:url) { desc 'Base URL of the portal. Default: PORTAL_URL, then the config file.' }
  newparam(:token) do
    desc 'A personal API token (the rules are its user\'s). Default: PORTAL_API_TOKEN, then the config file.'
    sensitive true
  end

  newproperty(:action) do
    desc 'What a matching rule does. Required to create a rule.'
    newvalues(:notify, :suppress)
  end

  newproperty(:enabled) do
    desc 'A disabled rule is kept but never matches.'
    newvalues(:true, :false)
  end

  helpers = PuppetX::MonitoringPortal::TypeHelpers
  helpers.set(self, :hosts, 'Host names or globs (web-*); [] matches every host')
  helpers.set(self, :hostgroups, 'Host group names or globs')
  helpers.set(self, :services, 'Service descriptions or globs; only service notifications match')
  helpers.set(self, :servicegroups, 'Service group names or globs')
  helpers.set(self, :channels, 'Channels of notification commands (email, sms, ...)')
  # As the portal stores them: states and types upper-case, days lower-case.
  { states: :upcase, types: :upcase, days: :downcase }.each do |name, norm|
    helpers.set(self, name, { states: 'Host and service states (UP, DOWN, WARNING, CRITICAL, ...)',
                              types: 'Notification types (PROBLEM, RECOVERY, ...)',
                              days: 'Days the time window applies (mon ... sun)' }[name])
    attrclass(name).munge { |value| value.to_s.send(norm) }
  end
  helpers.string(self, :start, 'Start of the time window, HH:MM in your time zone (default 00:00).')
  helpers.string(self, :end, 'End of the time window, HH:MM (24:00: the end of the day).')

  newproperty(:position) do
    desc 'first or last: where the rule stands in your list (moved there when it is not).'
    newvalues(:first, :last)
  end

end
