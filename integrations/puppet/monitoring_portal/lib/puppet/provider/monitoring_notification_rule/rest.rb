# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/client'

Puppet::Type.type(:monitoring_notification_rule).provide(:rest) do
  desc "Talks to the monitoring portal's preferences API (/api/v1/preferences/rules/)."

  lists = [:hosts, :hostgroups, :services, :servicegroups, :states, :types, :channels, :days].freeze
  scalars = [:action, :enabled, :start, :end].freeze
  define_method(:lists) { lists }
  define_method(:scalars) { scalars }

  # Getters read the rule once; setters only remember; flush writes (POST to create, PATCH to
  # change, DELETE to remove, reorder to move). Puppet calls neither under --noop.
  lists.each do |prop|
    define_method(prop) { exists? ? Array(current[prop.to_s]) : :absent }
  end
  define_method(:action) { exists? ? current['action'].to_s.to_sym : :absent }
  define_method(:enabled) { exists? ? (current['enabled'] ? :true : :false) : :absent }
  define_method(:start) { exists? ? current['start'].to_s : :absent }
  define_method(:end) { exists? ? current['end'].to_s : :absent }
  (lists + scalars + [:position]).each do |prop|
    define_method("#{prop}=") { |value| changes[prop] = value }
  end

  # In sync when the rule stands where it should; otherwise where it stands ("2 of 3").
  def position
    return :absent unless exists?
    ids = rules.map { |r| r['id'] }
    index = ids.index(current['id'])
    should = resource.should(:position)
    place = should == :first ? 0 : ids.length - 1
    index == place ? should : "#{index + 1} of #{ids.length}"
  end

  def exists?
    !current.nil?
  end

  def create
    changes[:ensure] = :present
  end

  def destroy
    changes[:ensure] = :absent
  end

  def flush
    return if changes.empty?
    if changes[:ensure] == :absent
      client.request('DELETE', rule_path(current['id']))
    elsif changes[:ensure] == :present
      body = write_body(scalars + lists) { |prop| resource.should(prop) }
      raise Puppet::Error, "#{resource.ref}: action (notify or suppress) is required to create a rule" unless body['action']
      created = client.request('POST', 'preferences/rules/', body: body.merge('comment' => resource[:comment])).data
      move(created['id'], resource.should(:position)) if resource.should(:position)
    else
      body = write_body(scalars + lists) { |prop| changes[prop] }
      client.request('PATCH', rule_path(current['id']), body: body) unless body.empty?
      move(current['id'], changes[:position]) if changes[:position]
    end
    @changes = {}
    @rules = nil
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  private

  def changes
    @changes ||= {}
  end

  def client
    @client ||= PuppetX::MonitoringPortal::Client.for_resource(resource)
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  def rule_path(id)
    "preferences/rules/#{PuppetX::MonitoringPortal::Client.path(id)}"
  end

  # The token user's rules in order (staff see everyone's: ask for one's own), read once per run.
  def rules
    @rules ||= begin
      user = client.request('GET', 'preferences/profile/').data['user']
      client.list('preferences/rules/', 'user' => user)
    end
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  # The rule with this resource's comment (nil: none); two of them are an error, not a guess.
  def current
    same = rules.select { |r| r['comment'] == resource[:comment] }
    if same.length > 1
      raise Puppet::Error, "You have #{same.length} rules with the comment #{resource[:comment].inspect} " \
                           "(ids #{same.map { |r| r['id'] }.join(', ')}); give them distinct comments"
    end
    same.first
  end

  def write_body(props)
    props.each_with_object({}) do |prop, body|
      value = yield(prop)
      next if value.nil?
      body[prop.to_s] = case prop
                        when :enabled then value.to_s == 'true'
                        when :action then value.to_s
                        when *lists then Array(value)
                        else value
                        end
    end
  end

  def move(id, where)
    others = rules.map { |r| r['id'] }.reject { |i| i == id }
    ids = where.to_s == 'first' ? [id, *others] : [*others, id]
    client.request('POST', 'preferences/rules/reorder/', body: { 'ids' => ids })
  end
end
